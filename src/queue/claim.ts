import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { queryRows, ts } from "../db/rows.ts";
import type { ClaimedRecipient } from "../domain/delivery.ts";
import { claimedFromRow } from "./claimed.ts";

export interface RecipientClaimParams {
  member: string;
  /** Also take messages of the shared pool (processor IS NULL): locally-for-others members. */
  includePool: boolean;
  limit: number;
  /**
   * At most this many message bytes per claim (each recipient counts its message's size),
   * but always at least one recipient: a batch's bodies are loaded at once, so this bounds a
   * worker's memory whatever the messages weigh. Default: no bound.
   */
  maxBytes?: number;
  leaseMs: number;
  now: Date;
}

/**
 * Take up to `limit` ready recipients for one member and stamp a lease on them, in one
 * statement. Ready = queued, due, and never claimed or its lease expired. SKIP LOCKED lets
 * any number of members claim concurrently without waiting on, or double-taking, a row.
 * It returns what delivery and the done-message report need of the message, so neither reads
 * the messages row again.
 */
export async function claimRecipients(db: Executor, p: RecipientClaimParams): Promise<ClaimedRecipient[]> {
  return (await claimBatch(db, p)).recipients;
}

export interface ClaimedBatch {
  recipients: ClaimedRecipient[];
  /** More recipients were ready than taken (the limit or the byte budget cut the batch): claim again at once. */
  more: boolean;
}

/** claimRecipients, also saying whether more were ready. */
export async function claimBatch(db: Executor, p: RecipientClaimParams): Promise<ClaimedBatch> {
  const until = new Date(p.now.getTime() + p.leaseMs);
  // Locking comes first (FOR UPDATE allows no window function); rows past the budget are only
  // locked until the statement ends.
  const taken =
    p.maxBytes === undefined
      ? sql`SELECT id FROM ready`
      : sql`SELECT id FROM (
          SELECT id, size_bytes, sum(size_bytes) OVER (ORDER BY next_attempt_at, id ROWS UNBOUNDED PRECEDING) AS through
          FROM ready
        ) w
        WHERE through <= ${p.maxBytes} OR through = size_bytes`;
  const rows = await queryRows(
    db,
    sql`
      WITH ready AS (
        SELECT r.id, r.next_attempt_at, m.size_bytes
        FROM recipients r
        JOIN messages m ON m.id = r.message_id
        WHERE r.state = 'queued'
          AND r.next_attempt_at <= ${ts(p.now)}
          AND (r.locked_until IS NULL OR r.locked_until < ${ts(p.now)})
          AND (m.processor = ${p.member} OR (${p.includePool}::boolean AND m.processor IS NULL))
        ORDER BY r.next_attempt_at
        LIMIT ${p.limit}
        FOR UPDATE OF r SKIP LOCKED
      ),
      taken AS (${taken})
      UPDATE recipients r
      SET locked_by = ${p.member}, locked_until = ${ts(until)}
      FROM taken, messages m
      WHERE r.id = taken.id AND m.id = r.message_id
      RETURNING r.id, r.message_id, r.address, r.domain, r.attempts, r.queued_at, r.locked_until,
                r.dsn_orcpt, r.dsn_notify, m.sender, m.dsn_envid, m.dsn_ret, m.size_bytes, m.kind, m.submitted_by,
                m.processor, m.rule_invocations, m.authenticated_user IS NOT NULL AS authenticated,
                (SELECT count(*) FROM ready) AS ready_count`,
  );
  const recipients = rows.map(claimedFromRow);
  // Ready rows were locked up to the limit: as many as the limit means more may be waiting.
  const ready = rows.length > 0 ? Number(rows[0].ready_count) : 0;
  return { recipients, more: recipients.length === p.limit || ready > recipients.length };
}
