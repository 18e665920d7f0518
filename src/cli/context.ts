import { loadConfig, type Config, type ConfigFlags } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { openStorage } from "../db/open.ts";
import type { Storage } from "../db/storage.ts";
import { pino } from "pino";
import type { Logger } from "../util/logger.ts";

/**
 * Admin commands open the database, make sure the schema is current, do one thing, close.
 * Logs go to stderr so stdout stays clean for tables and --json.
 */
export async function withDatabase<T>(flags: ConfigFlags, fn: (storage: Storage, config: Config, logger: Logger) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, flags);
  const logger = cliLogger();
  const storage = await openStorage(config, logger);
  try {
    await migrate(storage.db);
    return await fn(storage, config, logger);
  } finally {
    await storage.close();
  }
}

/** A command's logger: warnings and up by default, on stderr (pino writes to stdout otherwise). */
export function cliLogger(level = process.env.LOG_LEVEL ?? "warn"): Logger {
  return pino({ level }, pino.destination(2));
}
