import { check, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";

/**
 * Addresses the relay no longer sends to, shared by the whole cluster: added after a permanent
 * failure of a configured class (bounce) or by an operator (manual). A row past its expiry no
 * longer applies; it stays until removed or replaced, so the history is readable.
 */
export const suppressions = pgTable(
  "suppressions",
  {
    /** The recipient address, lower-cased (canonicalAddress, src/domain/address.ts). */
    address: text("address").primaryKey(),
    reason: text("reason").notNull(),
    /** manual | bounce */
    source: text("source").notNull(),
    /** The class of the reply that suppressed the address (source bounce); null for manual rows. */
    bounceClass: text("bounce_class"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    /** Null: never expires. */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    /** Who added it: "api:<client>", "cli", "webadmin", "member:<name>". */
    createdBy: text("created_by").notNull(),
  },
  (t) => [index("suppressions_created_at_idx").on(t.createdAt), check("suppressions_source_check", sql`${t.source} IN ('manual', 'bounce')`)],
);
