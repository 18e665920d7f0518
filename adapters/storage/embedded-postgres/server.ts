import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "../../../src/util/logger.ts";
import { findBinaries, type PostgresBinaries } from "./binaries.ts";
import { isAlive } from "./owner.ts";

/** Where the embedded server keeps its files, all under the member's data dir. */
export interface ServerPaths {
  /** PGDATA. */
  pgdata: string;
  password: string;
  port: string;
  /** The server's log (PostgreSQL's stderr). */
  log: string;
  /** The DATABASE_URL that reaches the running server; present while it runs. */
  url: string;
  owner: string;
}

export function serverPaths(dataDir: string): ServerPaths {
  const dir = resolve(dataDir);
  return {
    pgdata: join(dir, "pg"),
    password: join(dir, "pg-password"),
    port: join(dir, "pg-port"),
    log: join(dir, "pg.log"),
    url: join(dir, "database-url"),
    owner: join(dir, "pg.owner"),
  };
}

export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

export const DATABASE_USER = "postgres";
export const DATABASE_NAME = "postgres";

export function databaseUrl(password: string, port: number): string {
  return `postgres://${DATABASE_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`;
}

export function isInitialised(paths: ServerPaths): boolean {
  return existsSync(join(paths.pgdata, "PG_VERSION"));
}

/**
 * PostgreSQL refuses to run as root. As root, run it as the system's `postgres` user (the one a
 * distribution package creates) and give it the data directory; never create users on the host.
 */
interface RunAs {
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
  } catch {
    // fall through to the error
  }
  throw new EmbeddedPostgresError(
    'PostgreSQL does not run as root and this system has no "postgres" user to run it as: run mailcluster as an ordinary user, ' +
      "create a postgres system user, set DATABASE_URL to a PostgreSQL server, or set MAILCLUSTER_EMBEDDED=pglite",
  );
}

function run(file: string, args: string[], ids: RunAs): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { ...ids, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) {
        resolvePromise();
        return;
      }
      const hint = ids.uid !== undefined && /Permission denied/.test(output) ? ' (running as root, PostgreSQL runs as the "postgres" user, which must be able to reach the data dir)' : "";
      reject(new EmbeddedPostgresError(`${file} exited with ${code}: ${output.trim()}${hint}`));
    });
  });
}

/**
 * initdb into a scratch directory renamed into place when complete, so an interrupted first
 * start leaves nothing that looks like a database. The password is generated here, once.
 */
export async function initialise(paths: ServerPaths, binaries: PostgresBinaries = findBinaries()): Promise<void> {
  const ids = runAs();
  const scratch = `${paths.pgdata}.init`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { mode: 0o700 });
  const password = randomBytes(24).toString("base64url");
  writeFileSync(paths.password, password + "\n", { mode: 0o600 });
  const pwfile = `${scratch}.pw`;
  writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  try {
    if (ids.uid !== undefined && ids.gid !== undefined) {
      chownSync(scratch, ids.uid, ids.gid);
      chownSync(pwfile, ids.uid, ids.gid);
      // The postgres user must be able to pass through the data dir (its secrets are 0600).
      const dataDir = dirname(paths.pgdata);
      const mode = statSync(dataDir).mode;
      if ((mode & 0o001) === 0) chmodSync(dataDir, (mode & 0o7777) | 0o001);
    }
    await run(
      binaries.initdb,
      [`--pgdata=${scratch}`, "--auth=scram-sha-256", `--username=${DATABASE_USER}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--no-locale"],
      ids,
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  renameSync(scratch, paths.pgdata);
}

export function readPassword(paths: ServerPaths): string {
  try {
    return readFileSync(paths.password, "utf8").trim();
  } catch {
    throw new EmbeddedPostgresError(`the embedded PostgreSQL in ${paths.pgdata} has no password file ${paths.password}: restore it, or move ${paths.pgdata} away to start afresh`);
  }
}

/** The port of the last start when it is still free, else a new free one (remembered). */
export async function choosePort(paths: ServerPaths): Promise<number> {
  const last = existsSync(paths.port) ? Number(readFileSync(paths.port, "utf8").trim()) : NaN;
  if (Number.isInteger(last) && last > 0 && (await bindable(last))) return last;
  const port = await bindable(0);
  if (port === false) throw new EmbeddedPostgresError("no free loopback port for the embedded PostgreSQL");
  writeFileSync(paths.port, `${port}\n`);
  return port;
}

function bindable(port: number): Promise<number | false> {
  return new Promise((resolvePromise) => {
    const srv = createServer();
    srv.once("error", () => resolvePromise(false));
    srv.listen(port, "127.0.0.1", () => {
      const address = srv.address();
      const bound = typeof address === "object" && address ? address.port : port;
      srv.close(() => resolvePromise(bound));
    });
  });
}

/** A running server: ours (a child) or one a killed predecessor left running (by pid). */
export interface RunningServer {
  pid: number;
  port: number;
  adopted: boolean;
  stop(): Promise<void>;
}

interface PidFile {
  pid: number;
  port: number;
  status: string;
}

function readPidFile(paths: ServerPaths): PidFile | null {
  let lines: string[];
  try {
    lines = readFileSync(join(paths.pgdata, "postmaster.pid"), "utf8").split("\n");
  } catch {
    return null;
  }
  // PostgreSQL's layout (pidfile.h): pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  return { pid: Number(lines[0]), port: Number(lines[3]), status: (lines[7] ?? "").trim() };
}

/** Whether `pid` is a postmaster of this data directory, as far as this platform lets us tell. */
function isPostmasterOf(pid: number, pgdata: string): boolean | "unknown" {
  if (platform() === "linux") {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return cmdline.some((arg) => arg.endsWith("postgres")) && cmdline.includes(pgdata);
    } catch {
      return false;
    }
  }
  try {
    const command = execFileSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
    return command.includes("postgres") && command.includes(pgdata);
  } catch {
    return "unknown";
  }
}

/**
 * A `postmaster.pid` that outlived its server (the member and PostgreSQL killed with -9).
 * PostgreSQL removes it by itself when the pid is gone, but refuses to start while the pid
 * belongs to some other live process, which is common after a container restart. Returns the
 * server when the recorded one is in fact still running (our member was killed, PostgreSQL
 * was not): that one is taken over rather than started twice.
 */
export function recoverPidFile(paths: ServerPaths, logger?: Logger): PidFile | null {
  const file = readPidFile(paths);
  if (!file || !Number.isInteger(file.pid) || file.pid <= 0) return null;
  if (isAlive(file.pid)) {
    const ours = isPostmasterOf(file.pid, paths.pgdata);
    if (ours === true) return file;
    // Cannot tell: leave the file to PostgreSQL's own check rather than signal a stranger.
    if (ours === "unknown") return null;
    logger?.warn({ pid: file.pid }, "embedded PostgreSQL: postmaster.pid names a process that is not this server (pid reused); removing it");
  } else {
    logger?.warn({ pid: file.pid }, "embedded PostgreSQL: removing the postmaster.pid of a server that is gone (it was killed)");
  }
  rmSync(join(paths.pgdata, "postmaster.pid"), { force: true });
  return null;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts PostgreSQL on a loopback port, without a Unix socket (no path-length limit, no files
 * outside the data dir), in its own process group: a Ctrl-C in the terminal reaches the member,
 * which drains and deregisters through the database before it stops the server.
 */
export async function startServer(paths: ServerPaths, port: number, binaries: PostgresBinaries = findBinaries()): Promise<RunningServer> {
  const ids = runAs();
  const log = openSync(paths.log, "a", 0o600);
  let child: ChildProcess;
  try {
    if (ids.uid !== undefined && ids.gid !== undefined) chownSync(paths.log, ids.uid, ids.gid);
    child = spawn(
      binaries.postgres,
      ["-D", paths.pgdata, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "logging_collector=off"],
      { ...ids, detached: true, stdio: ["ignore", log, log], env: { ...process.env, LC_ALL: "C" } },
    );
  } finally {
    closeSync(log);
  }
  const exited = new Promise<number | null>((resolvePromise) => {
    child.once("exit", (code) => resolvePromise(code));
    child.once("error", () => resolvePromise(-1));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new EmbeddedPostgresError(`the embedded PostgreSQL did not start: ${tail(paths.log)}`);
    const file = readPidFile(paths);
    // pg_ctl's test: our pid in the file and the status line says ready.
    if (file && file.pid === child.pid && file.status === "ready") break;
    if (Date.now() > deadline) {
      child.kill("SIGQUIT");
      throw new EmbeddedPostgresError(`the embedded PostgreSQL was not ready after ${READY_TIMEOUT_MS / 1000} s: ${tail(paths.log)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = child.pid ?? 0;
  return {
    pid,
    port,
    adopted: false,
    async stop() {
      if (gone) return;
      // Fast shutdown: sessions are ended, the data is checkpointed; immediate if it hangs.
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGQUIT"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A server a previous owner left running: stopped by pid, since it is not our child. */
export function adoptServer(file: PidFile): RunningServer {
  return {
    pid: file.pid,
    port: file.port,
    adopted: true,
    async stop() {
      if (!isAlive(file.pid)) return;
      process.kill(file.pid, "SIGINT");
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (isAlive(file.pid)) {
        if (Date.now() > deadline) {
          process.kill(file.pid, "SIGQUIT");
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

function tail(path: string): string {
  try {
    const lines = readFileSync(path, "utf8").trim().split("\n");
    return lines.slice(-5).join(" | ") + ` (log: ${path})`;
  } catch {
    return `no log at ${path}`;
  }
}
