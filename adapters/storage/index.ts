import type { EmbeddedKind, Storage, StorageChoice } from "../../src/db/storage.ts";
import type { Logger } from "../../src/util/logger.ts";

/** A member runs the embedded server for its lifetime; a command borrows it or runs it briefly. */
export type OpenPurpose = "member" | "command";

/**
 * The choice of storage adapter (as adapters/runtime/index.ts chooses the runtime's): a real
 * server when DATABASE_URL is set, else the embedded one under the data dir (a private
 * PostgreSQL by default, PGlite on request). Each adapter is imported lazily, so a member never
 * loads the driver it does not use; the logger is asked for only by the embedded ones, so a
 * short command on a DATABASE_URL makes none. Only the composition root (src/cli/adapters.ts)
 * imports this; the rest of src/ receives the Storage it returns.
 */
export async function openStorage(
  config: StorageChoice,
  logger: () => Logger | Promise<Logger>,
  purpose: OpenPurpose = "command",
): Promise<Storage> {
  const applicationName = `mailcluster ${purpose === "member" ? config.memberName : "cli"}`.slice(0, 63);
  if (config.databaseUrl) {
    const { openPostgresJs } = await import("./postgres-js/index.ts");
    return openPostgresJs(config.databaseUrl, { applicationName, ...(purpose === "command" ? { max: 2 } : {}) });
  }
  const { mkdirSync } = await import("node:fs");
  mkdirSync(config.dataDir, { recursive: true });
  const log = await logger();
  if ((await embeddedKind(config, log)) === "pglite") {
    const { openPglite } = await import("./pglite/index.ts");
    return openPglite({ dataDir: `${config.dataDir}/pglite`, logger: log });
  }
  const { openEmbeddedPostgres } = await import("./embedded-postgres/index.ts");
  return openEmbeddedPostgres({ dataDir: config.dataDir, purpose, logger: log, applicationName });
}

/**
 * MAILCLUSTER_EMBEDDED when set; else PostgreSQL, except for a data dir that already holds a
 * PGlite database (made by an earlier version) and no PostgreSQL one: its mail stays reachable.
 */
export async function embeddedKind(config: Pick<StorageChoice, "dataDir" | "embedded">, logger?: Logger): Promise<EmbeddedKind> {
  if (config.embedded) return config.embedded;
  const { existsSync } = await import("node:fs");
  if (existsSync(`${config.dataDir}/pglite/PG_VERSION`) && !existsSync(`${config.dataDir}/pg`)) {
    logger?.info({ dir: `${config.dataDir}/pglite` }, "using the PGlite database found in the data dir (MAILCLUSTER_EMBEDDED=postgres with an empty data dir for the embedded PostgreSQL)");
    return "pglite";
  }
  return "postgres";
}

/**
 * The URL of the embedded PostgreSQL a running member started on this data dir (null when none
 * runs), and the server's directory, for the message that says so.
 */
export async function runningEmbeddedDatabaseUrl(dataDir: string): Promise<{ url: string | null; pgdata: string }> {
  const { runningDatabaseUrl, serverPaths } = await import("./embedded-postgres/index.ts");
  return { url: runningDatabaseUrl(dataDir), pgdata: serverPaths(dataDir).pgdata };
}
