import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { messages } from "./messages.ts";

/** The queue items: one row per recipient of a message. */
export const recipients = pgTable(
  "recipients",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    messageId: bigint("message_id", { mode: "number" })
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    address: text("address").notNull(),
    /** Lower-cased domain of the address, for routing and the per-domain views. */
    domain: text("domain").notNull(),
    /** RFC 3461 ORCPT and NOTIFY (comma list) as given at RCPT. */
    dsnOrcpt: text("dsn_orcpt"),
    dsnNotify: text("dsn_notify"),
    /** queued | held | delivered | failed */
    state: text("state").notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull(),
    /** Lease: the member working on it, and until when. Expired lease = claimable again. */
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastCode: integer("last_code"),
    lastStatus: text("last_status"),
    lastText: text("last_text"),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true }),
    /** Delay DSN already sent (RFC 3464 Action: delayed), so it goes once. */
    delayNotifiedAt: timestamp("delay_notified_at", { withTimezone: true }),
    queuedAt: timestamp("queued_at", { withTimezone: true }).notNull(),
    finalAt: timestamp("final_at", { withTimezone: true }),
  },
  (t) => [
    // The claim scans only this partial index: finished rows never slow it down.
    index("recipients_ready_idx").on(t.nextAttemptAt).where(sql`state = 'queued'`),
    index("recipients_message_idx").on(t.messageId),
    index("recipients_domain_idx").on(t.domain).where(sql`state IN ('queued', 'held')`),
  ],
);
