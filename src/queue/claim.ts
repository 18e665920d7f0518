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
  const until = new Date(p.now.getTime() + p.leaseMs);
  const rows = await queryRows(
    db,
    sql`
      WITH ready AS (
        SELECT r.id
        FROM recipients r
        JOIN messages m ON m.id = r.message_id
        WHERE r.state = 'queued'
          AND r.next_attempt_at <= ${ts(p.now)}
          AND (r.locked_until IS NULL OR r.locked_until < ${ts(p.now)})
          AND (m.processor = ${p.member} OR (${p.includePool}::boolean AND m.processor IS NULL))
        ORDER BY r.next_attempt_at
        LIMIT ${p.limit}
        FOR UPDATE OF r SKIP LOCKED
      )
      UPDATE recipients r
      SET locked_by = ${p.member}, locked_until = ${ts(until)}
      FROM ready, messages m
      WHERE r.id = ready.id AND m.id = r.message_id
      RETURNING r.id, r.message_id, r.address, r.domain, r.attempts, r.queued_at, r.locked_until,
                r.dsn_orcpt, r.dsn_notify, m.sender, m.dsn_envid, m.dsn_ret, m.size_bytes, m.kind, m.submitted_by,
                m.processor, m.rule_invocations, m.authenticated_user IS NOT NULL AS authenticated`,
  );
  return rows.map(claimedFromRow);
}
