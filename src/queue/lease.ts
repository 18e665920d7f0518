import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { num, pgArray, queryRows, ts } from "../db/rows.ts";

export interface RecipientLeaseParams {
  member: string;
  ids: readonly number[];
  now: Date;
  leaseMs: number;
}

/**
 * Extend the lease on recipients still in flight. Returns the ids this member still holds;
 * one missing from the answer was lost (lease expired and another member took it).
 */
export async function renewRecipientLeases(db: Executor, p: RecipientLeaseParams): Promise<number[]> {
  if (p.ids.length === 0) return [];
  const until = new Date(p.now.getTime() + p.leaseMs);
  const rows = await queryRows(
    db,
    sql`UPDATE recipients SET locked_until = ${ts(until)}
        WHERE id = ANY(${pgArray(p.ids)}::bigint[]) AND locked_by = ${p.member} AND state = 'queued'
        RETURNING id`,
  );
  return rows.map((r) => num(r.id));
}

/** Give recipients back untouched (graceful shutdown): claimable at once, no attempt spent. */
export async function releaseRecipients(db: Executor, member: string, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await queryRows(
    db,
    sql`UPDATE recipients SET locked_by = NULL, locked_until = NULL
        WHERE id = ANY(${pgArray(ids)}::bigint[]) AND locked_by = ${member} AND state = 'queued'
        RETURNING id`,
  );
  return rows.length;
}
