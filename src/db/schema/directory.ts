import { bigint, boolean, check, pgTable } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";

/**
 * One row: the directory version (domains, accounts, aliases). Statement triggers on those
 * tables bump it and NOTIFY `mailcluster_directory` (drizzle/0007_directory_triggers.sql), so each
 * member's in-memory directory (src/accounts/directory.ts) knows when to reload. A row rather
 * than a sequence: the bump commits with the change it announces, so a member never sees the
 * new version before the new data.
 */
export const directoryVersion = pgTable(
  "directory_version",
  {
    /** Always true: the table holds exactly one row. */
    singleton: boolean("singleton").primaryKey().default(true),
    version: bigint("version", { mode: "number" }).notNull().default(0),
  },
  (t) => [check("directory_version_singleton", sql`${t.singleton}`)],
);
