import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { bytea } from "./bytea.ts";

/** The envelope and bookkeeping of one accepted message. The body lives in message_bodies. */
export const messages = pgTable(
  "messages",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    /** Reverse path; '' is the null sender. */
    sender: text("sender").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    clientAddress: text("client_address"),
    clientHostname: text("client_hostname"),
    clientHelo: text("client_helo"),
    authenticatedUser: text("authenticated_user"),
    tls: boolean("tls").notNull().default(false),
    protocol: text("protocol"),
    /** RFC 3461 ENVID and RET. */
    dsnEnvid: text("dsn_envid"),
    dsnRet: text("dsn_ret"),
    /** normal | dsn (a bounce or delay notice we generated) | generated (rule output). */
    kind: text("kind").notNull().default("normal"),
    submittedBy: text("submitted_by").notNull(),
    /** Member that may process it; NULL = the shared pool served by locally-for-others members. */
    processor: text("processor"),
    /** How many times server-/cluster-wide rules ran for this message (DESIGN: double processing is visible). */
    ruleInvocations: integer("rule_invocations").notNull().default(0),
    /** Recipients not yet delivered or failed; reaches 0 exactly when the message is done. */
    pendingRecipients: integer("pending_recipients").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    /** Set when every recipient is final: the message has left the queue. */
    doneAt: timestamp("done_at", { withTimezone: true }),
    /** Set, in the same transaction as the DSN's submit, once the done message's DSN pass ran: exactly once. */
    dsnCheckedAt: timestamp("dsn_checked_at", { withTimezone: true }),
    /** Subject: and Message-ID: at ingest (decoded, trimmed, bounded; the id without <>), for the delivery log's search. */
    subject: text("subject"),
    headerMessageId: text("header_message_id"),
  },
  (t) => [
    index("messages_done_at_idx").on(t.doneAt).where(sql`done_at IS NOT NULL`),
    index("messages_processor_idx").on(t.processor).where(sql`done_at IS NULL`),
    index("messages_header_message_id_idx").on(t.headerMessageId).where(sql`header_message_id IS NOT NULL`),
    index("messages_dsn_pending_idx").on(t.doneAt).where(sql`done_at IS NOT NULL AND dsn_checked_at IS NULL`),
  ],
);

/**
 * Raw RFC 5322 content, kept apart from messages so queue scans stay narrow, in parts of at
 * most 1 MiB: the driver text-encodes bytea, and a 25 MiB value in one parameter costs
 * hundreds of MB of transient memory; parts keep that to a few MB.
 */
export const messageBodies = pgTable(
  "message_bodies",
  {
    messageId: bigint("message_id", { mode: "number" })
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    part: integer("part").notNull().default(0),
    content: bytea("content").notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.part] })],
);
