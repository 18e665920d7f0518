import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One row per delivery attempt. No foreign keys on purpose: the history stays for ops
 * after the message itself has been purged from the queue.
 */
export const attempts = pgTable(
  "attempts",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    messageId: bigint("message_id", { mode: "number" }).notNull(),
    recipientId: bigint("recipient_id", { mode: "number" }).notNull(),
    address: text("address").notNull(),
    member: text("member").notNull(),
    /** delivered | deferred | failed */
    outcome: text("outcome").notNull(),
    replyCode: integer("reply_code").notNull(),
    enhancedStatus: text("enhanced_status"),
    replyText: text("reply_text").notNull(),
    remoteHost: text("remote_host"),
    /** What kind of trouble the reply reports (src/domain/bounce-class.ts); null for a delivery. */
    bounceClass: text("bounce_class"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("attempts_message_idx").on(t.messageId), index("attempts_started_idx").on(t.startedAt)],
);
