import type { Logger } from "pino";
import { loadConfig, type Config, type ConfigFlags } from "../config.ts";
import type { Storage } from "../db/storage.ts";
import { AdminClient } from "./admin-client.ts";
import { embeddedKind, openStorage } from "./adapters.ts";
import { runningAdminApi } from "./admin-address.ts";
import { ensureSchema } from "./schema-check.ts";

/**
 * Admin commands open the database, make sure the schema is current, do one thing, close.
 * Logs go to stderr so stdout stays clean for tables and --json. The logger is made on first
 * use: on a DATABASE_URL nothing logs, and loading pino is a sizeable part of a short command.
 */
export async function withDatabase<T>(flags: ConfigFlags, fn: (storage: Storage, config: Config, logger: () => Promise<Logger>) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, flags);
  let made: Promise<Logger> | undefined;
  const logger = () => (made ??= cliLogger(config.logLevel));
  const storage = await openStorage(config, logger);
  try {
    await ensureSchema(storage.db);
    return await fn(storage, config, logger);
  } finally {
    await storage.close();
  }
}

/** Where a command does its work: the database itself, or a running member's admin API. */
export type Target = { kind: "db"; storage: Storage } | { kind: "api"; api: AdminClient };

/**
 * PGlite serves only the process that opened it: while a member runs on it, commands go
 * through that member's admin API (its address and token are in the data dir). Everywhere
 * else (DATABASE_URL, the embedded PostgreSQL, a PGlite nobody holds) they open the database.
 */
export async function withTarget<T>(fn: (target: Target) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  if (!config.databaseUrl && (await embeddedKind(config)) === "pglite") {
    const running = runningAdminApi(config.dataDir, config.adminToken);
    if (running) return fn({ kind: "api", api: new AdminClient(running.url, running.token) });
  }
  return withDatabase({}, (storage) => fn({ kind: "db", storage }));
}

/** A command's logger: warnings and up by default, on stderr (pino writes to stdout otherwise). */
export async function cliLogger(level = process.env.LOG_LEVEL ?? "warn"): Promise<Logger> {
  // Loaded on use: pino is a sizeable part of a short command's start-up.
  const { pino } = await import("pino");
  return pino({ level }, pino.destination(2));
}
