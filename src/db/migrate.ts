import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import type { Db } from "./db.ts";
import { num, queryRows } from "./rows.ts";

// Any fixed 64-bit number; every member starting at once serialises on it.
const MIGRATION_LOCK_KEY = 7_362_514_009n;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

export interface MigrationResult {
  applied: string[];
  total: number;
}

/**
 * Apply drizzle-kit's migrations in one transaction under an advisory lock, so several
 * members starting together never race. Bookkeeping is drizzle's own table
 * (drizzle.__drizzle_migrations), so `drizzle-kit migrate` and this agree on what ran.
 * Written against Db rather than a driver's migrator so both adapters share it.
 */
export async function migrate(db: Db, folder = MIGRATIONS_FOLDER): Promise<MigrationResult> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${sql.raw(MIGRATION_LOCK_KEY.toString())})`);
    await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS drizzle`);
    await tx.execute(sql`CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (
      id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
    const last = await queryRows(
      tx,
      sql`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`,
    );
    const lastAt = last.length > 0 ? num(last[0].created_at) : -1;
    for (const migration of migrations) {
      if (migration.folderMillis <= lastAt) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`,
      );
      applied.push(String(migration.folderMillis));
    }
  });
  return { applied, total: migrations.length };
}
