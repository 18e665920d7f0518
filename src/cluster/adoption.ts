import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { num, pgArray, queryRows, str, ts } from "../db/rows.ts";

export interface AdoptionParams {
  /** The adopting member. */
  member: string;
  now: Date;
  /** Heartbeat age beyond which a member is dead. */
  timeoutSeconds: number;
  /** The queue lease length (queue_lease_seconds): tells when a lease was last stamped. */
  leaseSeconds: number;
  /** Messages taken in one statement, so one pass never holds thousands of row locks. */
  limit: number;
}

export interface AdoptionResult {
  adopted: number;
  /** Adopted messages per previous processor. */
  from: Record<string, number>;
}

/**
 * Take over unfinished messages whose processor is not a live member — it stopped heartbeating
 * for the member timeout, or its row is gone (it stopped gracefully or was removed) — in one
 * statement. SKIP LOCKED keeps concurrent adopters apart, and a row another adopter changed in
 * the meantime is re-checked against its new, live processor, so each message is adopted
 * exactly once. A dead member that comes back claims only processor = itself, which no longer
 * names what was adopted: nothing to fight over.
 *
 * Leases its recipients still carry from the dead member are cleared in the same statement, so
 * the work is claimable now rather than when a lease longer than the member timeout runs out —
 * but only leases nobody renewed within the member timeout (see staleLeaseBefore): a member that
 * misses heartbeats yet still renews its in-flight work keeps it and records it, so a false
 * death costs no second delivery.
 */
export async function adoptOrphanedMessages(db: Executor, p: AdoptionParams): Promise<AdoptionResult> {
  const cutoff = new Date(p.now.getTime() - p.timeoutSeconds * 1000);
  const alive = sql`EXISTS (SELECT 1 FROM members x WHERE x.name = m.processor AND x.heartbeat_at >= ${ts(cutoff)})`;
  const dead = await queryRows(
    db,
    sql`SELECT DISTINCT m.processor FROM messages m
        WHERE m.done_at IS NULL AND m.processor IS NOT NULL AND m.processor <> ${p.member} AND NOT ${alive}`,
  );
  if (dead.length === 0) return { adopted: 0, from: {} };
  // The dead names go in as a literal: a plain condition on the row itself is what PostgreSQL
  // re-checks on a row another adopter changed since our snapshot, so that row is left alone.
  const names = pgArray(dead.map((r) => str(r.processor)));
  const rows = await queryRows(
    db,
    sql`
      WITH orphan AS (
        SELECT m.id, m.processor
        FROM messages m
        WHERE m.done_at IS NULL
          AND m.processor = ANY(${names}::text[])
          AND NOT ${alive}
        ORDER BY m.id
        LIMIT ${p.limit}
        FOR UPDATE OF m SKIP LOCKED
      ),
      unlocked AS (
        UPDATE recipients r
        SET locked_by = NULL, locked_until = NULL
        FROM orphan
        WHERE r.message_id = orphan.id AND r.state = 'queued' AND r.locked_by = orphan.processor
          AND r.locked_until <= ${ts(staleLeaseBefore(p))}
        RETURNING r.id
      ),
      adopted AS (
        UPDATE messages m
        SET processor = ${p.member}
        FROM orphan
        WHERE m.id = orphan.id
        RETURNING m.id, orphan.processor AS previous
      )
      SELECT previous, count(*)::int AS n FROM adopted GROUP BY previous`,
  );
  const from: Record<string, number> = {};
  let adopted = 0;
  for (const row of rows) {
    const n = num(row.n);
    from[str(row.previous)] = n;
    adopted += n;
  }
  return { adopted, from };
}

/**
 * A lease was stamped (claimed or renewed) at locked_until - lease; a holder that works renews
 * it every lease/3. One stamped longer than the member timeout ago is not being renewed:
 * locked_until at or before now - timeout + lease.
 */
export function staleLeaseBefore(p: { now: Date; timeoutSeconds: number; leaseSeconds: number }): Date {
  return new Date(p.now.getTime() + (p.leaseSeconds - p.timeoutSeconds) * 1000);
}

/**
 * Clear leases held by members that are no longer alive on recipients of messages that were
 * not adopted (the shared pool): without this, pool work a dead member had claimed would wait
 * for its lease to run out. Returns how many recipients became claimable.
 */
export async function releaseDeadLeases(db: Executor, p: { now: Date; timeoutSeconds: number; leaseSeconds: number }): Promise<number> {
  const cutoff = new Date(p.now.getTime() - p.timeoutSeconds * 1000);
  const rows = await queryRows(
    db,
    sql`
      UPDATE recipients r
      SET locked_by = NULL, locked_until = NULL
      WHERE r.state = 'queued'
        AND r.locked_by IS NOT NULL
        AND r.locked_until >= ${ts(p.now)}
        AND r.locked_until <= ${ts(staleLeaseBefore(p))}
        AND NOT EXISTS (SELECT 1 FROM members x WHERE x.name = r.locked_by AND x.heartbeat_at >= ${ts(cutoff)})
      RETURNING r.id`,
  );
  return rows.length;
}

/**
 * A `remotely` member hands its unfinished messages back to the shared pool once a
 * locally-for-others member is alive again (or after an operator switched it to remotely):
 * it runs no queue processing of its own then. Messages with a recipient in flight stay until
 * that attempt is recorded.
 */
export async function returnToPool(db: Executor, p: { member: string; now: Date }): Promise<number> {
  const rows = await queryRows(
    db,
    sql`
      UPDATE messages m
      SET processor = NULL
      WHERE m.processor = ${p.member}
        AND m.done_at IS NULL
        AND NOT EXISTS (
          SELECT 1 FROM recipients r
          WHERE r.message_id = m.id AND r.state = 'queued' AND r.locked_until >= ${ts(p.now)}
        )
      RETURNING m.id`,
  );
  return rows.length;
}
