import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Cluster-wide settings: every member reads the same values. Defaults live in src/cluster/settings.ts. */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
