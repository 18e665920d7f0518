import { type SQL, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { date, num, queryRows, str, strOrNull, ts } from "../db/rows.ts";

/** The delivery log (attempts), searched by what an operator has in hand. */
export interface AttemptSearch {
  /** Substring of the recipient address, case-insensitive. */
  recipient?: string;
  /** Substring of the envelope sender (known while the message is still in the queue tables). */
  sender?: string;
  /** Queue id (messages.id). */
  messageId?: number;
  /** Substring of the Subject: stored at ingest, case-insensitive. */
  subject?: string;
  /** The Message-ID: header, exactly (surrounding <> ignored). */
  headerMessageId?: string;
  outcome?: "delivered" | "deferred" | "failed";
  /** Class of the reply (src/domain/bounce-class.ts): bad_mailbox, policy, rate_limited... */
  bounceClass?: string;
  /** Substring of the reply text ("connection refused", "4.2.2"...). */
  reply?: string;
  from?: Date;
  to?: Date;
  /** The page after this attempt (the last one of the previous page). */
  before?: number;
  limit: number;
}

/** One delivery attempt as the attempts table records it (a message's history, the delivery log). */
export interface AttemptFields {
  id: number;
  startedAt: Date;
  address: string;
  member: string;
  outcome: string;
  replyCode: number;
  enhancedStatus: string | null;
  replyText: string;
  remoteHost: string | null;
  durationMs: number;
  /** src/domain/bounce-class.ts; null for a delivery (and for attempts recorded before 0013). */
  bounceClass: string | null;
}

/** A line of the delivery log: the attempt and the message it belongs to. */
export interface AttemptLogRow extends AttemptFields {
  messageId: number;
  sender: string | null;
  subject: string | null;
  headerMessageId: string | null;
}

function contains(text: string): string {
  return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

/** As stored: "<a@b>" and "a@b" name the same message. */
export function bareMessageId(text: string): string {
  const t = text.trim();
  return /^<[^<>]*>$/.test(t) ? t.slice(1, -1).trim() : t;
}

/** Newest first; attempts stay after their message is purged, so the sender may be unknown. */
export async function searchAttempts(db: Executor, p: AttemptSearch): Promise<AttemptLogRow[]> {
  const where: SQL[] = [];
  if (p.recipient) where.push(sql`a.address ILIKE ${contains(p.recipient)}`);
  if (p.sender) where.push(sql`m.sender ILIKE ${contains(p.sender)}`);
  if (p.messageId !== undefined) where.push(sql`a.message_id = ${p.messageId}`);
  if (p.subject) where.push(sql`m.subject ILIKE ${contains(p.subject)}`);
  // Through the message-id index first, then attempts by message: cheap however long the log.
  if (p.headerMessageId) where.push(sql`a.message_id IN (SELECT id FROM messages WHERE header_message_id = ${bareMessageId(p.headerMessageId)})`);
  if (p.outcome) where.push(sql`a.outcome = ${p.outcome}`);
  if (p.bounceClass) where.push(sql`a.bounce_class = ${p.bounceClass}`);
  if (p.reply) where.push(sql`(a.reply_text ILIKE ${contains(p.reply)} OR a.enhanced_status = ${p.reply})`);
  if (p.from) where.push(sql`a.started_at >= ${ts(p.from)}`);
  if (p.to) where.push(sql`a.started_at < ${ts(p.to)}`);
  // Keyset paging in the listing's own order, compared inside the database (its timestamps are finer than a JS Date).
  if (p.before !== undefined) where.push(sql`(a.started_at, a.id) < (SELECT started_at, id FROM attempts WHERE id = ${p.before})`);
  const rows = await queryRows(
    db,
    sql`SELECT a.id, a.started_at, a.message_id, m.sender, m.subject, m.header_message_id, a.address, a.member, a.outcome, a.reply_code, a.enhanced_status,
               a.reply_text, a.remote_host, a.duration_ms, a.bounce_class
        FROM attempts a LEFT JOIN messages m ON m.id = a.message_id
        WHERE ${where.length === 0 ? sql`TRUE` : sql.join(where, sql` AND `)}
        ORDER BY a.started_at DESC, a.id DESC LIMIT ${p.limit}`,
  );
  return rows.map((r) => ({
    id: num(r.id),
    startedAt: date(r.started_at),
    messageId: num(r.message_id),
    sender: strOrNull(r.sender),
    subject: strOrNull(r.subject),
    headerMessageId: strOrNull(r.header_message_id),
    address: str(r.address),
    member: str(r.member),
    outcome: str(r.outcome),
    replyCode: num(r.reply_code),
    enhancedStatus: strOrNull(r.enhanced_status),
    replyText: str(r.reply_text),
    remoteHost: strOrNull(r.remote_host),
    durationMs: num(r.duration_ms),
    bounceClass: strOrNull(r.bounce_class),
  }));
}
