import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import type { Db } from "../db/db.ts";
import { MIGRATIONS_FOLDER, migrate } from "../db/migrate.ts";
import { queryRows } from "../db/rows.ts";

/**
 * Commands run on a schema that is current, migrating when it is not. Checking is one query
 * against the journal's last entry, where a full migrate reads and hashes every SQL file and
 * takes a lock in a transaction: most of a short command's time on the database.
 */
export async function ensureSchema(db: Db): Promise<void> {
  if (await isCurrent(db)) return;
  await migrate(db);
}

async function isCurrent(db: Db): Promise<boolean> {
  const latest = latestMigration();
  if (latest === null) return false;
  try {
    const [row] = await queryRows(db, sql`SELECT max(created_at) AS at FROM drizzle.__drizzle_migrations`);
    return row !== undefined && row.at !== null && Number(row.at) >= latest;
  } catch {
    // No bookkeeping table yet: a database never migrated.
    return false;
  }
}

/** The `when` of the journal's last migration (what drizzle records as created_at). */
function latestMigration(): number | null {
  const journal: unknown = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8"));
  if (!journal || typeof journal !== "object" || !("entries" in journal) || !Array.isArray(journal.entries)) return null;
  const whens = journal.entries.map((e: unknown) => (e && typeof e === "object" && "when" in e && typeof e.when === "number" ? e.when : -1));
  return whens.length > 0 ? Math.max(...whens) : null;
}
