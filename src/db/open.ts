import type { Config, EmbeddedKind } from "../config.ts";
import type { Storage } from "./storage.ts";
import type { Logger } from "../util/logger.ts";

/** A member runs the embedded server for its lifetime; a command borrows it or runs it briefly. */
export type OpenPurpose = "member" | "command";

/**
 * The composition root's choice of storage adapter: a real server when DATABASE_URL is set,
 * else the embedded one under the data dir (a private PostgreSQL by default, PGlite on request).
 * Imported lazily so a member never loads the driver it does not use.
 */
export async function openStorage(
  config: Pick<Config, "databaseUrl" | "dataDir" | "memberName" | "embedded">,
  logger: Logger,
  purpose: OpenPurpose = "command",
): Promise<Storage> {
  const applicationName = `mailcluster ${purpose === "member" ? config.memberName : "cli"}`.slice(0, 63);
  if (config.databaseUrl) {
    const { openPostgresJs } = await import("../../adapters/storage/postgres-js/index.ts");
    return openPostgresJs(config.databaseUrl, { applicationName, ...(purpose === "command" ? { max: 2 } : {}) });
  }
  const { mkdirSync } = await import("node:fs");
  mkdirSync(config.dataDir, { recursive: true });
  if ((await embeddedKind(config, logger)) === "pglite") {
    const { openPglite } = await import("../../adapters/storage/pglite/index.ts");
    return openPglite({ dataDir: `${config.dataDir}/pglite`, logger });
  }
  const { openEmbeddedPostgres } = await import("../../adapters/storage/embedded-postgres/index.ts");
  return openEmbeddedPostgres({ dataDir: config.dataDir, purpose, logger, applicationName });
}

/**
 * MAILCLUSTER_EMBEDDED when set; else PostgreSQL, except for a data dir that already holds a
 * PGlite database (made by an earlier version) and no PostgreSQL one: its mail stays reachable.
 */
export async function embeddedKind(config: Pick<Config, "dataDir" | "embedded">, logger?: Logger): Promise<EmbeddedKind> {
  if (config.embedded) return config.embedded;
  const { existsSync } = await import("node:fs");
  if (existsSync(`${config.dataDir}/pglite/PG_VERSION`) && !existsSync(`${config.dataDir}/pg`)) {
    logger?.info({ dir: `${config.dataDir}/pglite` }, "using the PGlite database found in the data dir (MAILCLUSTER_EMBEDDED=postgres with an empty data dir for the embedded PostgreSQL)");
    return "pglite";
  }
  return "postgres";
}
