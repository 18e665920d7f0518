import type { Config } from "../config.ts";
import type { Storage } from "./storage.ts";
import type { Logger } from "../util/logger.ts";

/**
 * The composition root's choice of storage adapter: a real server when DATABASE_URL is set,
 * else the embedded PGlite under the data dir. Imported lazily so a member never loads the
 * driver it does not use.
 */
export async function openStorage(config: Pick<Config, "databaseUrl" | "dataDir" | "memberName">, logger: Logger): Promise<Storage> {
  if (config.databaseUrl) {
    const { openPostgresJs } = await import("../../adapters/storage/postgres-js/index.ts");
    return openPostgresJs(config.databaseUrl, { applicationName: `mailcluster ${config.memberName}`.slice(0, 63) });
  }
  const { mkdirSync } = await import("node:fs");
  mkdirSync(config.dataDir, { recursive: true });
  const { openPglite } = await import("../../adapters/storage/pglite/index.ts");
  return openPglite({ dataDir: `${config.dataDir}/pglite`, logger });
}
