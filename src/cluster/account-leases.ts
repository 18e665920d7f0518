import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { date, num, pgArray, queryRows, str, ts } from "../db/rows.ts";

/** Who may open a dynamic account right now, as the account_leases row says. */
export interface AccountLease {
  account: string;
  member: string;
  epoch: number;
  leaseUntil: Date;
}

export type LeaseAcquireResult =
  | { kind: "held"; epoch: number; leaseUntil: Date }
  /** Another member holds an unexpired lease. */
  | { kind: "taken"; owner: string; epoch: number; leaseUntil: Date };

export interface LeaseAcquireParams {
  account: string;
  member: string;
  now: Date;
  leaseMs: number;
}

/**
 * Open (or keep open) one account for one member: acquireAccountLeases for a single account.
 * A takeover (also of one's own expired or released lease) bumps the epoch, so two writers
 * never share one; a renewal keeps it. Rows are never deleted: releasing only expires them,
 * so the epoch keeps growing across owners.
 */
export async function acquireAccountLease(db: Executor, p: LeaseAcquireParams): Promise<LeaseAcquireResult> {
  const result = (await acquireAccountLeases(db, { accounts: [p.account], member: p.member, now: p.now, leaseMs: p.leaseMs })).get(p.account);
  // Every account asked for gets an answer; an account removed meanwhile is held by nobody.
  return result ?? { kind: "taken", owner: "", epoch: 0, leaseUntil: p.now };
}

export interface LeasesAcquireParams {
  accounts: readonly string[];
  member: string;
  now: Date;
  leaseMs: number;
}

/**
 * The leases of many accounts in ONE statement: insert each lease, or take it over when it has
 * expired, or renew it when this member still holds it; plus one read of the leases held by
 * others. Accounts are taken in address order, so two members opening overlapping sets wait
 * on each other instead of deadlocking; an account removed meanwhile is left out of the insert
 * (its lease row would have nothing to refer to). Accounts whose lease was released or expired
 * between the two statements are tried once more rather than redirected to nobody.
 */
export async function acquireAccountLeases(db: Executor, p: LeasesAcquireParams): Promise<Map<string, LeaseAcquireResult>> {
  const out = new Map<string, LeaseAcquireResult>();
  const accounts = [...new Set(p.accounts)].sort();
  const first = await upsertLeases(db, accounts, p);
  const rest = accounts.filter((a) => !first.has(a));
  const current = new Map((await readAccountLeases(db, rest)).map((l) => [l.account, l]));
  const retry = rest.filter((a) => {
    const l = current.get(a);
    return l && (l.member === p.member || l.leaseUntil.getTime() <= p.now.getTime());
  });
  const second = await upsertLeases(db, retry, p);
  const again = new Map((await readAccountLeases(db, retry.filter((a) => !second.has(a)))).map((l) => [l.account, l]));
  for (const account of accounts) {
    const held = first.get(account) ?? second.get(account);
    const l = again.get(account) ?? current.get(account);
    if (held) out.set(account, held);
    else if (!l) out.set(account, { kind: "taken", owner: "", epoch: 0, leaseUntil: p.now });
    else out.set(account, { kind: "taken", owner: l.member, epoch: l.epoch, leaseUntil: l.leaseUntil });
  }
  return out;
}

/** The one insert/takeover/renewal statement; answers the accounts this member now holds. */
async function upsertLeases(db: Executor, accounts: readonly string[], p: Omit<LeasesAcquireParams, "accounts">): Promise<Map<string, LeaseAcquireResult>> {
  const held = new Map<string, LeaseAcquireResult>();
  if (accounts.length === 0) return held;
  const until = new Date(p.now.getTime() + p.leaseMs);
  const rows = await queryRows(
    db,
    sql`INSERT INTO account_leases AS l (account, member, epoch, lease_until, acquired_at)
        SELECT v.account, ${p.member}, 1, ${ts(until)}, ${ts(p.now)}
        FROM unnest(${pgArray(accounts)}::text[]) AS v(account) JOIN accounts a ON a.address = v.account
        ORDER BY v.account
        ON CONFLICT (account) DO UPDATE SET
          member = EXCLUDED.member,
          epoch = CASE WHEN l.member = EXCLUDED.member AND l.lease_until > EXCLUDED.acquired_at THEN l.epoch ELSE l.epoch + 1 END,
          acquired_at = CASE WHEN l.member = EXCLUDED.member AND l.lease_until > EXCLUDED.acquired_at THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
          lease_until = EXCLUDED.lease_until
        WHERE l.member = EXCLUDED.member OR l.lease_until <= EXCLUDED.acquired_at
        RETURNING account, epoch, lease_until`,
  );
  for (const r of rows) held.set(str(r.account), { kind: "held", epoch: num(r.epoch), leaseUntil: date(r.lease_until) });
  return held;
}

export async function readAccountLeases(db: Executor, accounts: readonly string[]): Promise<AccountLease[]> {
  if (accounts.length === 0) return [];
  const rows = await queryRows(
    db,
    sql`SELECT account, member, epoch, lease_until FROM account_leases WHERE account = ANY(${pgArray(accounts)}::text[])`,
  );
  return rows.map((r) => ({ account: str(r.account), member: str(r.member), epoch: num(r.epoch), leaseUntil: date(r.lease_until) }));
}

/**
 * Give accounts back (idle, or shutting down): the lease expires now, the row and its epoch
 * stay. Only leases this member holds under the given epoch are touched.
 */
export async function releaseAccountLeases(db: Executor, member: string, held: ReadonlyArray<{ account: string; epoch: number }>, now: Date): Promise<number> {
  if (held.length === 0) return 0;
  const rows = await queryRows(
    db,
    sql`UPDATE account_leases l SET lease_until = ${ts(now)}
        FROM unnest(${pgArray(held.map((h) => h.account))}::text[], ${pgArray(held.map((h) => h.epoch))}::bigint[]) AS v(account, epoch)
        WHERE l.account = v.account AND l.epoch = v.epoch AND l.member = ${member} AND l.lease_until > ${ts(now)}
        RETURNING l.account`,
  );
  return rows.length;
}

/**
 * Rendezvous (highest random weight) hashing: the backend an account goes to first. Stable
 * while the set of live backends is stable, and when one leaves only its accounts move.
 */
export function rendezvousOwner(account: string, backends: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1n;
  for (const b of backends) {
    const score = createHash("sha256").update(account).update("\0").update(b).digest().readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && best !== null && b < best)) {
      best = b;
      bestScore = score;
    }
  }
  return best;
}
