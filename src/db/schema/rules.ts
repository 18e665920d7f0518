import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Server-wide and cluster-wide rule sets (src/rules), applied once per message at submission.
 * A table of its own rather than a settings key: settings values are typed by their defaults
 * and copied into every member's settings cache, while a rule set is a validated document
 * with its own admin API. scope = 'cluster' (every member) or 'member:<name>' (one server).
 */
export const clusterRules = pgTable("cluster_rules", {
  scope: text("scope").primaryKey(),
  rules: jsonb("rules").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
