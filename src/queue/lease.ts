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

/**
 * Cut our lease on recipients short, to `until` (a batch whose outcomes could not be recorded):
 * any member may claim them again from then on, instead of after the whole lease; no attempt
 * is spent. Rows recorded meanwhile (no longer queued, or no longer ours) are left alone.
 */
export async function shortenRecipientLeases(db: Executor, member: string, ids: readonly number[], until: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await queryRows(
    db,
    sql`UPDATE recipients SET locked_until = LEAST(locked_until, ${ts(until)})
        WHERE id = ANY(${pgArray(ids)}::bigint[]) AND locked_by = ${member} AND state = 'queued'
        RETURNING id`,
  );
  return rows.length;
}

export interface InFlightRenewal {
  /** Still ours, lease extended. */
  held: number[];
  /** Still queued but no longer ours: another member took it, or adoption cleared our lease. */
  lost: number[];
}

/**
 * The worker's renewal: extend what we hold and, in the same statement, tell which of the
 * rest were really taken from us. A recipient that is no longer queued was recorded (by this
 * member, a moment ago, while its batch finishes; or by whoever took it, which the recording
 * reports as lost anyway), so it is neither held nor lost.
 */
export async function renewInFlightLeases(db: Executor, p: RecipientLeaseParams): Promise<InFlightRenewal> {
  if (p.ids.length === 0) return { held: [], lost: [] };
  const until = new Date(p.now.getTime() + p.leaseMs);
  const ids = pgArray(p.ids);
  // The SELECT sees the statement's snapshot: a row the UPDATE extended still shows our lock
  // there, and a row being recorded concurrently shows our lock too (then no longer queued
  // for the UPDATE, which waits for it): neither counts as lost.
  const rows = await queryRows(
    db,
    sql`WITH upd AS (
          UPDATE recipients SET locked_until = ${ts(until)}
          WHERE id = ANY(${ids}::bigint[]) AND locked_by = ${p.member} AND state = 'queued'
          RETURNING id
        )
        SELECT id, true AS held FROM upd
        UNION ALL
        SELECT id, false AS held FROM recipients
        WHERE id = ANY(${ids}::bigint[]) AND state = 'queued' AND locked_by IS DISTINCT FROM ${p.member}`,
  );
  const held: number[] = [];
  const lost: number[] = [];
  for (const r of rows) (r.held === true || r.held === "t" ? held : lost).push(num(r.id));
  return { held, lost };
}
