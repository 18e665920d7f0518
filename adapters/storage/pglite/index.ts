import { existsSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import * as schema from "../../../src/db/schema/index.ts";
import type { Db } from "../../../src/db/db.ts";
import type { Storage } from "../../../src/db/storage.ts";
import type { Logger } from "../../../src/util/logger.ts";
import { lockDataDir } from "./lock.ts";

export interface PgliteOptions {
  /** Directory of the embedded database; undefined = in memory (tests). */
  dataDir?: string;
  logger?: Logger;
}

/** The embedded default: one in-process PostgreSQL (WASM), one connection, LISTEN/NOTIFY inside the process. */
export async function openPglite(options: PgliteOptions = {}): Promise<Storage> {
  const { dataDir, logger } = options;
  const fresh = dataDir !== undefined && !existsSync(join(dataDir, "PG_VERSION"));
  if (fresh) logger?.info({ dataDir }, "initialising a new embedded database (PGlite); this takes a few seconds the first time");
  const unlock = dataDir === undefined ? () => {} : lockDataDir(dataDir);
  const started = Date.now();
  let client: PGlite;
  try {
    client = await PGlite.create(dataDir === undefined ? undefined : dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  if (dataDir !== undefined) {
    logger?.info({ dataDir, ms: Date.now() - started, fresh }, fresh ? "embedded database created" : "embedded database reopened");
  }
  const db: Db = drizzle(client, { schema });
  return {
    name: "pglite",
    db,
    capabilities: { listenNotify: true, multipleConnections: false },
    async listen(channel, onNotify) {
      const unsubscribe = await client.listen(channel, (payload) => onNotify(payload));
      return () => unsubscribe();
    },
    async close() {
      if (!client.closed) await client.close();
      unlock();
    },
  };
}
