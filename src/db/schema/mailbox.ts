import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { accounts } from "./accounts.ts";
import { bytea } from "./bytea.ts";

/** Addresses that deliver elsewhere: to an account, or to a list of addresses (comma-separated). */
export const aliases = pgTable("aliases", {
  address: text("address").primaryKey(),
  domain: text("domain").notNull(),
  /** Comma-separated target addresses (local accounts or remote). */
  targets: text("targets").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const mailboxFolders = pgTable(
  "mailbox_folders",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    account: text("account")
      .notNull()
      .references(() => accounts.address, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** Next IMAP-style uid to hand out in this folder. */
    nextUid: integer("next_uid").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("mailbox_folders_account_name_idx").on(t.account, t.name)],
);

/** Stored mail. (account, queue_message_id) is unique: a redelivery stores no second copy. */
export const mailboxMessages = pgTable(
  "mailbox_messages",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    account: text("account")
      .notNull()
      .references(() => accounts.address, { onDelete: "cascade" }),
    folderId: bigint("folder_id", { mode: "number" })
      .notNull()
      .references(() => mailboxFolders.id, { onDelete: "cascade" }),
    uid: integer("uid").notNull(),
    /** The queue message this copy came from (no FK: the queue row is purged later). */
    queueMessageId: bigint("queue_message_id", { mode: "number" }),
    flags: text("flags").array().notNull().default(sql`'{}'::text[]`),
    sizeBytes: integer("size_bytes").notNull(),
    sender: text("sender"),
    subject: text("subject"),
    /** Lease epoch under which the backend stored it (proves one writer per epoch). */
    storedEpoch: bigint("stored_epoch", { mode: "number" }),
    storedBy: text("stored_by"),
    internalDate: timestamp("internal_date", { withTimezone: true }).notNull(),
    content: bytea("content").notNull(),
  },
  (t) => [
    uniqueIndex("mailbox_messages_dedupe_idx").on(t.account, t.queueMessageId),
    uniqueIndex("mailbox_messages_folder_uid_idx").on(t.folderId, t.uid),
    index("mailbox_messages_account_idx").on(t.account),
  ],
);

/** RFC 3834 vacation memory: when we last auto-replied to a sender for an account. */
export const autoReplies = pgTable(
  "auto_replies",
  {
    account: text("account")
      .notNull()
      .references(() => accounts.address, { onDelete: "cascade" }),
    sender: text("sender").notNull(),
    lastSentAt: timestamp("last_sent_at", { withTimezone: true }).notNull(),
  },
  (t) => [uniqueIndex("auto_replies_account_sender_idx").on(t.account, t.sender)],
);
