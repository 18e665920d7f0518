import { type SQL, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { dateOrNull, num, numOrNull, pgArray, queryRows, ts } from "../db/rows.ts";

/** Effective limits of one site; null = no limit. */
export interface SiteLimits {
  maxConnections: number;
  messagesPerMinute: number | null;
  connectionsPerMinute: number | null;
}

export type Acquired =
  | { ok: true; slot: number; messageCredit: number }
  | { ok: false; reason: "suspended"; until: Date }
  | { ok: false; reason: "busy" }
  | { ok: false; reason: "rate"; retryAt: Date };

/** A bucket holds 10 seconds' worth of its rate (at least one token): bursts stay short. */
export function bucketCapacity(perMinute: number): number {
  return Math.max(1, perMinute / 6);
}

/** Tokens of a bucket column after refilling for the time since updated_at, capped. */
function refilled(column: SQL, perMinute: number | null, now: Date): SQL {
  if (perMinute === null) return sql`0::float8`;
  const cap = bucketCapacity(perMinute);
  return sql`LEAST(${cap}::float8, ${column} + ${perMinute / 60}::float8 * GREATEST(0, extract(epoch FROM (${ts(now)} - shaping_buckets.updated_at))))`;
}

/**
 * Take a connection slot of a site, in ONE statement: honours a suspension (or a slowdown's
 * lower limit), checks the connections- and messages-per-minute buckets, takes a free or
 * expired slot (FOR UPDATE SKIP LOCKED, or a new slot row by INSERT … ON CONFLICT DO NOTHING),
 * and only then consumes a connection token and reserves up to `messageWant` message tokens.
 * The bucket check reads the snapshot and the consumption re-reads the locked row, so members
 * racing for the last token can overdraw by a token; the balance goes negative and the next
 * connection waits for it: the rate holds over time.
 */
export async function acquireSlot(
  db: Executor,
  p: { site: string; member: string; now: Date; leaseUntil: Date; limits: SiteLimits; messageWant: number; alsoSuspendedAs?: string[] },
): Promise<Acquired> {
  const { limits } = p;
  const connRate = limits.connectionsPerMinute;
  const msgRate = limits.messagesPerMinute;
  const connCap = connRate === null ? 0 : bucketCapacity(connRate);
  const msgCap = msgRate === null ? 0 : bucketCapacity(msgRate);
  const useBucket = connRate !== null || msgRate !== null;
  const connNow = sql`(SELECT ${connRate === null ? sql`NULL::float8` : sql`coalesce((SELECT ${refilled(sql`shaping_buckets.connection_tokens`, connRate, p.now)} FROM shaping_buckets WHERE site = ${p.site}), ${connCap}::float8)`})`;
  const msgNow = sql`(SELECT ${msgRate === null ? sql`NULL::float8` : sql`coalesce((SELECT ${refilled(sql`shaping_buckets.message_tokens`, msgRate, p.now)} FROM shaping_buckets WHERE site = ${p.site}), ${msgCap}::float8)`})`;
  const take = (balance: SQL) => (msgRate === null ? sql`0` : sql`LEAST(${p.messageWant}::int, GREATEST(0, floor(${balance}))::int)`);
  const rows = await queryRows(
    db,
    sql`
      WITH susp AS (
        SELECT until, max_connections FROM shaping_suspensions
        WHERE site = ANY(${pgArray([p.site, ...(p.alsoSuspendedAs ?? [])])}::text[]) AND until > ${ts(p.now)}
        ORDER BY max_connections NULLS FIRST, until DESC LIMIT 1
      ), tokens AS (
        SELECT ${connNow} AS conn, ${msgNow} AS msg
      ), gate AS (
        SELECT NOT EXISTS (SELECT 1 FROM susp WHERE max_connections IS NULL)
               AND (tokens.conn IS NULL OR tokens.conn >= 1)
               AND (tokens.msg IS NULL OR tokens.msg >= 1) AS open,
               LEAST(${limits.maxConnections}::int, coalesce((SELECT max_connections FROM susp), ${limits.maxConnections}::int)) AS lim
        FROM tokens
      ), cand AS (
        SELECT s.slot FROM shaping_slots s, gate
        WHERE gate.open AND s.site = ${p.site} AND s.slot < gate.lim AND s.lease_until <= ${ts(p.now)}
        ORDER BY s.slot LIMIT 1
        FOR UPDATE OF s SKIP LOCKED
      ), taken AS (
        UPDATE shaping_slots s SET holder = ${p.member}, lease_until = ${ts(p.leaseUntil)}
        FROM cand WHERE s.site = ${p.site} AND s.slot = cand.slot
        RETURNING s.slot
      ), fresh AS (
        INSERT INTO shaping_slots (site, slot, holder, lease_until)
        SELECT ${p.site}, g, ${p.member}, ${ts(p.leaseUntil)}
        FROM gate, generate_series(0, gate.lim - 1) g
        WHERE gate.open AND NOT EXISTS (SELECT 1 FROM cand)
          AND NOT EXISTS (SELECT 1 FROM shaping_slots s WHERE s.site = ${p.site} AND s.slot = g)
        ORDER BY g LIMIT 1
        ON CONFLICT DO NOTHING
        RETURNING slot
      ), got AS (
        SELECT slot FROM taken UNION ALL SELECT slot FROM fresh
      ), bucket AS (
        INSERT INTO shaping_buckets (site, connection_tokens, message_tokens, granted, updated_at)
        SELECT ${p.site}, ${connCap}::float8 - ${connRate === null ? 0 : 1}, ${msgCap}::float8 - ${take(sql`${msgCap}::float8`)}, ${take(sql`${msgCap}::float8`)}, ${ts(p.now)}
        WHERE ${useBucket} AND EXISTS (SELECT 1 FROM got)
        ON CONFLICT (site) DO UPDATE SET
          connection_tokens = ${refilled(sql`shaping_buckets.connection_tokens`, connRate, p.now)} - ${connRate === null ? 0 : 1},
          message_tokens = ${refilled(sql`shaping_buckets.message_tokens`, msgRate, p.now)} - ${take(refilled(sql`shaping_buckets.message_tokens`, msgRate, p.now))},
          granted = ${take(refilled(sql`shaping_buckets.message_tokens`, msgRate, p.now))},
          updated_at = ${ts(p.now)}
        RETURNING granted
      )
      SELECT (SELECT until FROM susp WHERE max_connections IS NULL) AS suspended_until,
             (SELECT slot FROM got LIMIT 1) AS slot,
             (SELECT granted FROM bucket) AS granted,
             tokens.conn, tokens.msg
      FROM tokens`,
  );
  const row = rows[0];
  const suspended = dateOrNull(row.suspended_until);
  if (suspended) return { ok: false, reason: "suspended", until: suspended };
  const slot = numOrNull(row.slot);
  const conn = row.conn === null ? null : Number(row.conn);
  const msg = row.msg === null ? null : Number(row.msg);
  if (slot === null) {
    // The gate was shut by a bucket: come back when it holds a whole token again.
    const waits: number[] = [];
    if (conn !== null && connRate && conn < 1) waits.push(((1 - conn) * 60_000) / connRate);
    if (msg !== null && msgRate && msg < 1) waits.push(((1 - msg) * 60_000) / msgRate);
    if (waits.length > 0) return { ok: false, reason: "rate", retryAt: new Date(p.now.getTime() + Math.ceil(Math.max(...waits))) };
    if ((connRate === 0) || (msgRate === 0)) return { ok: false, reason: "rate", retryAt: new Date(p.now.getTime() + 60_000) };
    return { ok: false, reason: "busy" };
  }
  return { ok: true, slot, messageCredit: msgRate === null ? Number.POSITIVE_INFINITY : numOrNull(row.granted) ?? 0 };
}

/** More message tokens for a connection that used up its reservation: how many were granted, and when one is due if none. */
export async function takeMessageTokens(db: Executor, p: { site: string; now: Date; perMinute: number; want: number }): Promise<{ granted: number; retryAt: Date | null }> {
  const cap = bucketCapacity(p.perMinute);
  const bal = refilled(sql`shaping_buckets.message_tokens`, p.perMinute, p.now);
  const take = sql`LEAST(${p.want}::int, GREATEST(0, floor(${bal}))::int)`;
  const rows = await queryRows(
    db,
    sql`
      INSERT INTO shaping_buckets (site, connection_tokens, message_tokens, granted, updated_at)
      VALUES (${p.site}, 0, ${cap}::float8 - LEAST(${p.want}::int, floor(${cap}::float8)::int), LEAST(${p.want}::int, floor(${cap}::float8)::int), ${ts(p.now)})
      ON CONFLICT (site) DO UPDATE SET
        message_tokens = ${bal} - ${take},
        granted = ${take},
        updated_at = ${ts(p.now)}
      RETURNING granted, message_tokens`,
  );
  const granted = num(rows[0].granted);
  if (granted > 0) return { granted, retryAt: null };
  const balance = Number(rows[0].message_tokens);
  return { granted: 0, retryAt: new Date(p.now.getTime() + Math.max(1, Math.ceil(((1 - balance) * 60_000) / Math.max(p.perMinute, 1e-9)))) };
}

/**
 * Give slots back (connections closed), returning unused message tokens. Only the holder's
 * own rows are touched: a slot whose lease expired and was taken by another member stays theirs.
 */
export async function releaseSlots(db: Executor, p: { member: string; slots: { site: string; slot: number; unused: number; perMinute: number | null }[] }): Promise<void> {
  if (p.slots.length === 0) return;
  const refunds = p.slots.filter((s) => s.perMinute !== null && s.unused > 0 && Number.isFinite(s.unused));
  await queryRows(
    db,
    sql`
      WITH freed AS (
        UPDATE shaping_slots s SET holder = NULL, lease_until = '-infinity'
        FROM unnest(${pgArray(p.slots.map((s) => s.site))}::text[], ${pgArray(p.slots.map((s) => s.slot))}::int[]) AS x(site, slot)
        WHERE s.site = x.site AND s.slot = x.slot AND s.holder = ${p.member}
        RETURNING s.slot
      ), refund AS (
        UPDATE shaping_buckets b SET message_tokens = LEAST(x.cap, b.message_tokens + x.unused)
        FROM unnest(${pgArray(refunds.map((s) => s.site))}::text[], ${pgArray(refunds.map((s) => s.unused))}::float8[], ${pgArray(refunds.map((s) => bucketCapacity(s.perMinute ?? 0)))}::float8[]) AS x(site, unused, cap)
        WHERE b.site = x.site
        RETURNING b.site
      )
      SELECT (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM refund) AS refunded`,
  );
}

/** Extend the leases of the slots a member still holds (one statement for all of them). */
export async function renewSlots(db: Executor, p: { member: string; slots: { site: string; slot: number }[]; leaseUntil: Date }): Promise<number> {
  if (p.slots.length === 0) return 0;
  const rows = await queryRows(
    db,
    sql`
      UPDATE shaping_slots s SET lease_until = ${ts(p.leaseUntil)}
      FROM unnest(${pgArray(p.slots.map((s) => s.site))}::text[], ${pgArray(p.slots.map((s) => s.slot))}::int[]) AS x(site, slot)
      WHERE s.site = x.site AND s.slot = x.slot AND s.holder = ${p.member}
      RETURNING s.slot`,
  );
  return rows.length;
}

/**
 * Suspend (maxConnections null) or slow a site until `until` (a later end wins), and push the
 * queued, unleased recipients of its domains to that time in one UPDATE through the domain
 * index, so the claim (ordered by next_attempt_at) never meets them before it ends.
 */
export async function suspendSite(
  db: Executor,
  p: { site: string; until: Date; maxConnections: number | null; reason: string; domains: string[]; now: Date },
): Promise<{ until: Date; pushed: number }> {
  const domains = [...new Set(p.domains.map((d) => d.toLowerCase()))];
  const rows = await queryRows(
    db,
    sql`
      WITH s AS (
        INSERT INTO shaping_suspensions AS x (site, until, max_connections, reason, domains, created_at)
        VALUES (${p.site}, ${ts(p.until)}, ${p.maxConnections}, ${p.reason}, ${pgArray(domains)}::text[], ${ts(p.now)})
        ON CONFLICT (site) DO UPDATE SET
          until = CASE WHEN x.until > excluded.until AND x.until > ${ts(p.now)} THEN x.until ELSE excluded.until END,
          max_connections = CASE WHEN x.until > ${ts(p.now)} AND x.max_connections IS NULL THEN NULL ELSE excluded.max_connections END,
          reason = excluded.reason,
          domains = ARRAY(SELECT DISTINCT unnest(CASE WHEN x.until > ${ts(p.now)} THEN x.domains ELSE '{}' END || excluded.domains)),
          created_at = CASE WHEN x.until > ${ts(p.now)} THEN x.created_at ELSE excluded.created_at END
        RETURNING until, max_connections
      ), pushed AS (
        UPDATE recipients r SET next_attempt_at = s.until
        FROM s
        WHERE s.max_connections IS NULL
          AND r.state = 'queued' AND r.domain = ANY(${pgArray(domains)}::text[])
          AND r.next_attempt_at < s.until
          AND (r.locked_until IS NULL OR r.locked_until < ${ts(p.now)})
        RETURNING r.id
      )
      SELECT (SELECT until FROM s) AS until, (SELECT count(*) FROM pushed) AS pushed`,
  );
  return { until: dateOrNull(rows[0].until) ?? p.until, pushed: num(rows[0].pushed) };
}

/** Push the queued, unleased recipients of `domains` to `until` (a suspension met at acquisition). */
export async function deferDomains(db: Executor, p: { domains: string[]; until: Date; now: Date }): Promise<number> {
  if (p.domains.length === 0) return 0;
  const rows = await queryRows(
    db,
    sql`
      UPDATE recipients r SET next_attempt_at = ${ts(p.until)}
      WHERE r.state = 'queued' AND r.domain = ANY(${pgArray(p.domains)}::text[])
        AND r.next_attempt_at < ${ts(p.until)}
        AND (r.locked_until IS NULL OR r.locked_until < ${ts(p.now)})
      RETURNING r.id`,
  );
  return rows.length;
}

/** Lift a suspension or slowdown now; true when there was one. */
export async function clearSuspension(db: Executor, site: string): Promise<boolean> {
  const rows = await queryRows(db, sql`DELETE FROM shaping_suspensions WHERE site = ${site} RETURNING site`);
  return rows.length > 0;
}

export interface SlotHolding {
  site: string;
  held: number;
  holders: string[];
}

/** Slots held right now (unexpired leases), per site. */
export async function heldSlots(db: Executor, now: Date): Promise<SlotHolding[]> {
  const rows = await queryRows(
    db,
    sql`SELECT site, count(*)::int AS held, array_agg(DISTINCT holder) AS holders FROM shaping_slots WHERE lease_until > ${ts(now)} AND holder IS NOT NULL GROUP BY site ORDER BY site`,
  );
  return rows.map((r) => ({ site: String(r.site), held: num(r.held), holders: Array.isArray(r.holders) ? r.holders.map(String) : parseTextArray(typeof r.holders === "string" ? r.holders : "{}") }));
}

export interface SuspensionRow {
  site: string;
  until: Date;
  maxConnections: number | null;
  reason: string;
  domains: string[];
  createdAt: Date;
}

export async function activeSuspensions(db: Executor, now: Date): Promise<SuspensionRow[]> {
  const rows = await queryRows(db, sql`SELECT site, until, max_connections, reason, domains, created_at FROM shaping_suspensions WHERE until > ${ts(now)} ORDER BY site`);
  return rows.map((r) => ({
    site: String(r.site),
    until: dateOrNull(r.until) ?? now,
    maxConnections: numOrNull(r.max_connections),
    reason: String(r.reason),
    domains: Array.isArray(r.domains) ? r.domains.map(String) : parseTextArray(typeof r.domains === "string" ? r.domains : "{}"),
    createdAt: dateOrNull(r.created_at) ?? now,
  }));
}

/** postgres.js hands text[] back as an array; a driver that does not, as its literal. */
function parseTextArray(literal: string): string[] {
  const inner = literal.replace(/^\{|\}$/g, "");
  return inner === "" ? [] : inner.split(",").map((s) => s.replace(/^"|"$/g, ""));
}
