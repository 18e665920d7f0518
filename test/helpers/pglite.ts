import { openPglite } from "../../adapters/storage/pglite/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import type { Storage } from "../../src/db/storage.ts";

/** A fresh in-memory PGlite database, migrated: fast unit tests that need no server. */
export async function createPgliteDatabase(): Promise<Storage> {
  const storage = await openPglite();
  await migrate(storage.db);
  return storage;
}
