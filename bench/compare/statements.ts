import { createReadStream, readlinkSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { createInterface } from "node:readline";
import type postgres from "postgres";
import { parentOf } from "./proc-cpu.ts";

type Sql = postgres.Sql;

/**
 * Counting what PostgreSQL executed for one database the way a user would: `log_statement = all`
 * on that database only, then the statement lines of the server log that name it. Extended-protocol
 * statements (what postgres.js sends) are logged once per Execute, simple queries once each.
 */

/** The file this server writes its log to: the collector's current file, or the postmaster's stderr. */
export async function serverLogFile(admin: Sql): Promise<string> {
  const fromEnv = process.env.BENCH_PG_LOG;
  if (fromEnv) return fromEnv;
  const [s] = await admin`SELECT current_setting('logging_collector') AS collector, current_setting('data_directory') AS data, pg_backend_pid() AS pid`;
  if (s.collector === "on") {
    const [f] = await admin`SELECT pg_current_logfile('stderr') AS file`;
    if (typeof f.file !== "string") throw new Error("logging_collector is on but log_destination has no stderr log: set BENCH_PG_LOG");
    return isAbsolute(f.file) ? f.file : join(String(s.data), f.file);
  }
  // Without the collector (Debian's default) the postmaster's stderr is the log file pg_ctl opened.
  const target = readlinkSync(`/proc/${parentOf(Number(s.pid))}/fd/2`);
  if (!isAbsolute(target) || !statSync(target).isFile()) throw new Error(`PostgreSQL logs to ${target}, not a file: set BENCH_PG_LOG`);
  return target;
}

/**
 * Make sure each log line names its database. log_line_prefix is reloadable: when it lacks %d it
 * is extended with ALTER SYSTEM + pg_reload_conf(); the returned function puts it back.
 */
export async function ensureDatabaseInPrefix(admin: Sql): Promise<() => Promise<void>> {
  const [p] = await admin`SELECT setting, sourcefile FROM pg_settings WHERE name = 'log_line_prefix'`;
  const prefix = String(p.setting);
  if (prefix.includes("%d")) return async () => {};
  const fromAutoConf = typeof p.sourcefile === "string" && p.sourcefile.endsWith("postgresql.auto.conf");
  await admin.unsafe(`ALTER SYSTEM SET log_line_prefix = ${literal(`${prefix}db=%d `)}`);
  await admin`SELECT pg_reload_conf()`;
  return async () => {
    await admin.unsafe(fromAutoConf ? `ALTER SYSTEM SET log_line_prefix = ${literal(prefix)}` : "ALTER SYSTEM RESET log_line_prefix");
    await admin`SELECT pg_reload_conf()`;
  };
}

/** Every statement on `database` from now on (new sessions) is logged, without parameters or durations. */
export async function logEveryStatement(admin: Sql, database: string): Promise<void> {
  for (const [name, value] of [
    ["log_statement", "'all'"],
    ["log_min_duration_statement", "-1"],
    ["log_duration", "off"],
    ["log_parameter_max_length", "0"],
  ]) {
    await admin.unsafe(`ALTER DATABASE ${database} SET ${name} = ${value}`);
  }
}

export function logSize(file: string): number {
  return statSync(file).size;
}

const STATEMENT = / LOG: {2}(statement|execute [^:]*): /;

/** Statement lines for `database` written to `file` between byte offsets `from` and `to`. */
export async function countStatements(file: string, from: number, to: number, database: string): Promise<number> {
  if (to <= from) return 0;
  const lines = createInterface({ input: createReadStream(file, { start: from, end: to - 1 }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    const m = STATEMENT.exec(line);
    if (m && line.slice(0, m.index).includes(database)) n++;
  }
  return n;
}

/** Committed transactions of `database` as the statistics system has them (flushed by each backend at least at its exit). */
export async function xactCommits(admin: Sql, database: string): Promise<number> {
  const [r] = await admin`SELECT xact_commit::float8 AS n FROM pg_stat_database WHERE datname = ${database}`;
  return Number(r?.n ?? NaN);
}

function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
