import { type SQL, sql } from "drizzle-orm";
import { settleMessages } from "./settle-messages.ts";
import { retryOnDeadlock } from "../db/deadlock.ts";
import type { Executor } from "../db/db.ts";
import { dateOrNull, date, num, numOrNull, pgArray, queryRows, str, strOrNull, ts } from "../db/rows.ts";
import type { RecipientState } from "../domain/types.ts";
import type { AttemptFields } from "./attempt-search.ts";
import { wakeWorkers } from "./wake-up.ts";
import { UserError } from "../domain/user-error.ts";

/**
 * Queue operations for operators (admin API, CLI, WebAdmin), each one statement with its SQL
 * in plain sight. A target is one queue message (all its pending recipients), every
 * pending recipient of one domain, or every pending recipient of the queue.
 *
 * In-flight recipients (leased by a live worker, locked_until in the future):
 * - retry leaves them alone: the worker is trying right now and records its own outcome;
 * - release keeps the lease columns, so a delivery still running when it was held records
 *   its outcome as usual, and nobody else claims the row before that lease ends;
 * - hold, bounce and delete take effect at once. The worker's outcome is then discarded
 *   (record-outcomes only writes rows still 'queued' and locked by it), so a delivery that
 *   succeeded during a hold may happen again after release: at-least-once, as everywhere.
 */
export type QueueTarget = { messageId: number } | { domain: string } | { all: true };

export interface QueueOpResult {
  /** Recipients changed. */
  recipients: number;
  /** Distinct messages they belong to. */
  messages: number;
}

export class QueueAdminError extends UserError {
  override name = "QueueAdminError";
  constructor(message: string, status: 400 | 404 = 400) {
    super(message, status);
  }
}

export const BOUNCE_REPLY = { code: 550, enhanced: "5.0.0", text: "bounced by administrator" } as const;

function targetSql(t: QueueTarget): SQL {
  if ("all" in t) return sql`TRUE`;
  return "messageId" in t ? sql`r.message_id = ${t.messageId}` : sql`r.domain = ${t.domain.trim().toLowerCase()}`;
}

function summarise(rows: Record<string, unknown>[]): QueueOpResult {
  return { recipients: rows.length, messages: new Set(rows.map((r) => num(r.message_id))).size };
}

/** A message id that does not exist is an error; a domain with nothing queued simply changes nothing. */
async function ensureTarget(db: Executor, t: QueueTarget): Promise<void> {
  if ("all" in t) return;
  if (!("messageId" in t)) {
    if (t.domain.trim() === "") throw new QueueAdminError("a domain is required");
    // A wildcard here used to match nothing and report success; the whole queue is its own target.
    if (t.domain.includes("*")) throw new QueueAdminError(`"${t.domain}" is not a domain: to act on every pending recipient, target the whole queue (CLI --all)`);
    return;
  }
  if (!Number.isSafeInteger(t.messageId) || t.messageId <= 0) throw new QueueAdminError(`invalid queue id "${t.messageId}"`);
  const rows = await queryRows(db, sql`SELECT 1 FROM messages WHERE id = ${t.messageId}`);
  if (rows.length === 0) throw new QueueAdminError(`no queue message ${t.messageId}`, 404);
}

/** Due now. Rows in flight keep their lease and their worker. */
export async function retryQueue(db: Executor, t: QueueTarget, now: Date): Promise<QueueOpResult> {
  await ensureTarget(db, t);
  const rows = await queryRows(
    db,
    sql`UPDATE recipients r SET next_attempt_at = ${ts(now)}
        WHERE ${targetSql(t)} AND r.state = 'queued'
          AND (r.locked_until IS NULL OR r.locked_until < ${ts(now)})
        RETURNING r.message_id`,
  );
  if (rows.length > 0) await wakeWorkers(db, "");
  return summarise(rows);
}

/** Every queued recipient due now, like `postqueue -f`; held ones stay held. */
export function flushQueue(db: Executor, now: Date): Promise<QueueOpResult> {
  return retryOnDeadlock(() => retryQueue(db, { all: true }, now));
}

/** 'held' rows are never claimed (the claim takes only 'queued'). */
export async function holdQueue(db: Executor, t: QueueTarget): Promise<QueueOpResult> {
  await ensureTarget(db, t);
  const rows = await queryRows(
    db,
    sql`UPDATE recipients r SET state = 'held'
        WHERE ${targetSql(t)} AND r.state = 'queued'
        RETURNING r.message_id`,
  );
  return summarise(rows);
}

/** Back to 'queued', due now. */
export async function releaseQueue(db: Executor, t: QueueTarget, now: Date): Promise<QueueOpResult> {
  await ensureTarget(db, t);
  const rows = await queryRows(
    db,
    sql`UPDATE recipients r SET state = 'queued', next_attempt_at = ${ts(now)}
        WHERE ${targetSql(t)} AND r.state = 'held'
        RETURNING r.message_id`,
  );
  if (rows.length > 0) await wakeWorkers(db, "");
  return summarise(rows);
}

/**
 * Fail pending recipients with 5.0.0 "bounced by administrator", keeping
 * messages.pending_recipients and done_at right in the same statement (a message whose last
 * pending recipient this was is done), and log one attempts row each for the history.
 * The DSN composer treats them like any other failed recipient.
 * Rows are locked in id order first so two operators (or a worker recording outcomes) cannot
 * deadlock on a domain-wide bounce.
 */
export async function bounceQueue(db: Executor, t: QueueTarget, now: Date, actor = "admin"): Promise<QueueOpResult> {
  await ensureTarget(db, t);
  const rows = await queryRows(
    db,
    sql`
      WITH target AS (
        SELECT r.id FROM recipients r
        WHERE ${targetSql(t)} AND r.state IN ('queued', 'held')
        ORDER BY r.id
        FOR UPDATE
      ),
      upd AS (
        UPDATE recipients r
        SET state = 'failed', locked_by = NULL, locked_until = NULL,
            last_code = ${BOUNCE_REPLY.code}, last_status = ${BOUNCE_REPLY.enhanced}, last_text = ${BOUNCE_REPLY.text},
            last_attempt_at = ${ts(now)}, final_at = ${ts(now)}
        FROM target
        WHERE r.id = target.id
        RETURNING r.id, r.message_id, r.address
      ),
      fin AS (SELECT message_id, count(*)::int AS n FROM upd GROUP BY message_id),
      msg AS (
        ${settleMessages(now)}
        RETURNING m.id
      ),
      log AS (
        INSERT INTO attempts (message_id, recipient_id, address, member, outcome, reply_code, enhanced_status, reply_text, started_at, duration_ms)
        SELECT message_id, id, address, ${actor}, 'failed', ${BOUNCE_REPLY.code}, ${BOUNCE_REPLY.enhanced}, ${BOUNCE_REPLY.text}, ${ts(now)}, 0
        FROM upd
        RETURNING id
      )
      -- msg and log run although nothing reads them: PostgreSQL executes every data-modifying CTE.
      SELECT message_id FROM upd`,
  );
  return summarise(rows);
}

/**
 * Remove from the queue without any notice. By id: the whole message, whatever its state
 * (body, recipients; the attempts history stays). By domain: the pending recipients of that
 * domain (or of the whole queue); their messages' pending counts drop accordingly, a message left without any
 * recipient is deleted, one left with only final recipients is done.
 */
export async function deleteQueue(db: Executor, t: QueueTarget, now: Date): Promise<QueueOpResult> {
  await ensureTarget(db, t);
  if ("messageId" in t) {
    const rows = await queryRows(
      db,
      sql`WITH gone AS (DELETE FROM messages WHERE id = ${t.messageId} RETURNING id),
               r AS (SELECT count(*)::int AS n FROM recipients WHERE message_id = ${t.messageId} AND state IN ('queued', 'held'))
          SELECT gone.id AS message_id, r.n FROM gone, r`,
    );
    return { recipients: rows.length > 0 ? num(rows[0].n) : 0, messages: rows.length };
  }
  return db.transaction(async (tx) => {
    const rows = await queryRows(
      tx,
      sql`
        WITH target AS (
          SELECT r.id FROM recipients r
          WHERE ${targetSql(t)} AND r.state IN ('queued', 'held')
          ORDER BY r.id
          FOR UPDATE
        ),
        del AS (DELETE FROM recipients r USING target WHERE r.id = target.id RETURNING r.message_id),
        fin AS (SELECT message_id, count(*)::int AS n FROM del GROUP BY message_id),
        msg AS (
          ${settleMessages(now)}
          RETURNING m.id
        )
        SELECT message_id FROM del`,
    );
    // Messages whose every recipient was just deleted have nothing left to report: drop them.
    // A second statement, since one statement cannot see its own CTE's deletions.
    const ids = [...new Set(rows.map((r) => num(r.message_id)))];
    if (ids.length > 0) {
      await tx.execute(
        sql`DELETE FROM messages m WHERE m.id = ANY(${pgArray(ids)}::bigint[])
            AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id)`,
      );
    }
    return summarise(rows);
  });
}

export type QueueStateFilter = RecipientState | "pending" | "all";

export interface QueueListParams {
  state?: QueueStateFilter;
  domain?: string;
  limit?: number;
}

export interface QueueItem {
  id: number;
  messageId: number;
  sender: string;
  address: string;
  domain: string;
  state: string;
  attempts: number;
  queuedAt: Date;
  nextAttemptAt: Date;
  lockedBy: string | null;
  lockedUntil: Date | null;
  lastCode: number | null;
  lastStatus: string | null;
  lastText: string | null;
  /** The message's size, where the listing selected it (m.size_bytes); null otherwise. */
  sizeBytes: number | null;
}

function stateSql(state: QueueStateFilter): SQL {
  if (state === "all") return sql`TRUE`;
  if (state === "pending") return sql`r.state IN ('queued', 'held')`;
  return sql`r.state = ${state}`;
}

/** Queue items (one per recipient), oldest first. Default: the pending ones (queued and held). */
export async function listQueue(db: Executor, p: QueueListParams = {}): Promise<QueueItem[]> {
  const limit = Math.min(Math.max(p.limit ?? 200, 1), 10_000);
  // "*" lists every domain, as no filter does (an exact match on "*" would list nothing).
  const domain = p.domain && p.domain.trim() !== "*" ? sql`AND r.domain = ${p.domain.trim().toLowerCase()}` : sql``;
  const rows = await queryRows(
    db,
    // Pick the page of recipients first, then join the senders of just those rows.
    sql`SELECT r.id, r.message_id, m.sender, r.address, r.domain, r.state, r.attempts, r.queued_at, r.next_attempt_at,
               r.locked_by, r.locked_until, r.last_code, r.last_status, r.last_text, m.size_bytes
        FROM (
          SELECT * FROM recipients r
          WHERE ${stateSql(p.state ?? "pending")} ${domain}
          ORDER BY r.queued_at, r.id
          LIMIT ${limit}
        ) r JOIN messages m ON m.id = r.message_id
        ORDER BY r.queued_at, r.id`,
  );
  return rows.map(itemFromRow);
}

/** A recipients row joined with its message's sender, as listings show it. */
export function itemFromRow(r: Record<string, unknown>): QueueItem {
  return {
    id: num(r.id),
    messageId: num(r.message_id),
    sender: str(r.sender),
    address: str(r.address),
    domain: str(r.domain),
    state: str(r.state),
    attempts: num(r.attempts),
    queuedAt: date(r.queued_at),
    nextAttemptAt: date(r.next_attempt_at),
    lockedBy: strOrNull(r.locked_by),
    lockedUntil: dateOrNull(r.locked_until),
    lastCode: numOrNull(r.last_code),
    lastStatus: strOrNull(r.last_status),
    lastText: strOrNull(r.last_text),
    sizeBytes: numOrNull(r.size_bytes),
  };
}

export interface QueueDomainSummary {
  domain: string;
  queued: number;
  held: number;
  messages: number;
  oldestQueuedAt: Date;
  oldestAgeSeconds: number;
}

/** Pending recipients per domain with the oldest item's age (WebAdmin's queue summary). */
export async function queueSummaryByDomain(db: Executor, now: Date): Promise<QueueDomainSummary[]> {
  const rows = await queryRows(
    db,
    sql`SELECT r.domain,
               count(*) FILTER (WHERE r.state = 'queued')::int AS queued,
               count(*) FILTER (WHERE r.state = 'held')::int AS held,
               count(DISTINCT r.message_id)::int AS messages,
               min(r.queued_at) AS oldest
        FROM recipients r
        WHERE r.state IN ('queued', 'held')
        GROUP BY r.domain
        ORDER BY min(r.queued_at), r.domain`,
  );
  return rows.map((r) => {
    const oldest = date(r.oldest);
    return {
      domain: str(r.domain),
      queued: num(r.queued),
      held: num(r.held),
      messages: num(r.messages),
      oldestQueuedAt: oldest,
      oldestAgeSeconds: Math.max(0, Math.round((now.getTime() - oldest.getTime()) / 1000)),
    };
  });
}

export interface QueueMessageDetail {
  message: {
    id: number;
    sender: string;
    sizeBytes: number;
    kind: string;
    submittedBy: string;
    processor: string | null;
    pendingRecipients: number;
    createdAt: Date;
    doneAt: Date | null;
    clientAddress: string | null;
    authenticatedUser: string | null;
    /** Subject: and Message-ID: (without <>) as read at ingest; null when absent. */
    subject: string | null;
    headerMessageId: string | null;
  };
  recipients: QueueItem[];
  attempts: Array<AttemptFields & { recipientId: number }>;
}

/** One queue message with its recipients and its attempts log; null when there is none. */
export async function showQueueMessage(db: Executor, messageId: number): Promise<QueueMessageDetail | null> {
  if (!Number.isSafeInteger(messageId) || messageId <= 0) throw new QueueAdminError(`invalid queue id "${messageId}"`);
  const [m] = await queryRows(
    db,
    sql`SELECT id, sender, size_bytes, kind, submitted_by, processor, pending_recipients, created_at, done_at,
               client_address, authenticated_user, subject, header_message_id
        FROM messages WHERE id = ${messageId}`,
  );
  if (!m) return null;
  const rcpts = await queryRows(
    db,
    sql`SELECT r.id, r.message_id, m.sender, r.address, r.domain, r.state, r.attempts, r.queued_at, r.next_attempt_at,
               r.locked_by, r.locked_until, r.last_code, r.last_status, r.last_text
        FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.message_id = ${messageId} ORDER BY r.id`,
  );
  const atts = await queryRows(
    db,
    sql`SELECT id, recipient_id, address, member, outcome, reply_code, enhanced_status, reply_text, remote_host, started_at, duration_ms, bounce_class
        FROM attempts WHERE message_id = ${messageId} ORDER BY started_at, id`,
  );
  return {
    message: {
      id: num(m.id),
      sender: str(m.sender),
      sizeBytes: num(m.size_bytes),
      kind: str(m.kind),
      submittedBy: str(m.submitted_by),
      processor: strOrNull(m.processor),
      pendingRecipients: num(m.pending_recipients),
      createdAt: date(m.created_at),
      doneAt: dateOrNull(m.done_at),
      clientAddress: strOrNull(m.client_address),
      authenticatedUser: strOrNull(m.authenticated_user),
      subject: strOrNull(m.subject),
      headerMessageId: strOrNull(m.header_message_id),
    },
    recipients: rcpts.map(itemFromRow),
    attempts: atts.map((a) => ({
      id: num(a.id),
      recipientId: num(a.recipient_id),
      address: str(a.address),
      member: str(a.member),
      outcome: str(a.outcome),
      replyCode: num(a.reply_code),
      enhancedStatus: strOrNull(a.enhanced_status),
      replyText: str(a.reply_text),
      remoteHost: strOrNull(a.remote_host),
      startedAt: date(a.started_at),
      durationMs: num(a.duration_ms),
      bounceClass: strOrNull(a.bounce_class),
    })),
  };
}

export const QUEUE_ACTIONS = ["retry", "hold", "release", "bounce", "delete"] as const;
export type QueueAction = (typeof QUEUE_ACTIONS)[number];

export function isQueueAction(value: string): value is QueueAction {
  return (QUEUE_ACTIONS as readonly string[]).includes(value);
}

/**
 * One entry point for the CLI, the API and WebAdmin. A domain-wide operation can deadlock with
 * a worker recording outcomes for the same rows in another order; PostgreSQL then aborts one
 * side. Every operation is atomic, so running it again is safe.
 */
export function applyQueueAction(db: Executor, action: QueueAction, t: QueueTarget, now: Date, actor = "admin"): Promise<QueueOpResult> {
  return retryOnDeadlock(() => runQueueAction(db, action, t, now, actor));
}

function runQueueAction(db: Executor, action: QueueAction, t: QueueTarget, now: Date, actor: string): Promise<QueueOpResult> {
  switch (action) {
    case "retry":
      return retryQueue(db, t, now);
    case "hold":
      return holdQueue(db, t);
    case "release":
      return releaseQueue(db, t, now);
    case "bounce":
      return bounceQueue(db, t, now, actor);
    case "delete":
      return deleteQueue(db, t, now);
  }
}
