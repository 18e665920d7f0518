import { sql } from "drizzle-orm";
import { retryOnDeadlock } from "../db/deadlock.ts";
import type { Db, Executor, Tx } from "../db/db.ts";
import { num, pgArray, queryRows, str, ts } from "../db/rows.ts";

export interface StoreParams {
  account: string;
  queueMessageId: number;
  /** Lease epoch the caller opened the account under; null for a static (home_member) account. */
  epoch: number | null;
  member: string;
  folder: string;
  flags: readonly string[];
  content: Uint8Array;
  sender: string | null;
  subject: string | null;
  internalDate: Date;
  quotaBytes: number | null;
}

export type StoreResult =
  | { kind: "stored"; id: number; uid: number; folder: string }
  /** This queue message is stored for this account already (a retry, a lost reply). */
  | { kind: "duplicate" }
  /** Our lease was taken over (or released) since we opened the account: we must not write. */
  | { kind: "lease-lost"; owner: string | null }
  | { kind: "over-quota"; usedBytes: number; quotaBytes: number };

/** One message for one account, as part of a batch. */
export type StoreEntry = Omit<StoreParams, "member" | "internalDate">;

export interface StoreBatchParams {
  member: string;
  internalDate: Date;
  entries: readonly StoreEntry[];
  /**
   * Runs in the same transaction once every entry has its result: what the caller writes
   * here (the queue outcomes) commits with the mailbox rows or not at all.
   */
  inTransaction?: (tx: Tx, results: readonly StoreResult[]) => Promise<void>;
}

/** Body bytes per INSERT: bounded so a batch of large messages is not one giant statement. */
const INSERT_MAX_BYTES = 8 * 1024 * 1024;

/** Store one message for one account (storeBatch of one). */
export async function storeMessage(db: Db, p: StoreParams): Promise<StoreResult> {
  const [result] = await storeBatch(db, { member: p.member, internalDate: p.internalDate, entries: [p] });
  return result;
}

/**
 * Store a batch of messages for the accounts this backend owns, in ONE transaction, a few
 * statements whatever its size:
 * - the lease epochs of all dynamic accounts re-checked at once under FOR SHARE, so a takeover
 *   (an UPDATE of those rows) waits for this store to commit, and a store after a takeover sees
 *   the new epoch: that account's entries write nothing, the others go on;
 * - quota, where set, under a row lock on the account, so concurrent stores cannot overshoot;
 * - uids handed out per folder by one upsert (folders created on demand);
 * - the mailbox rows inserted with ON CONFLICT DO NOTHING on (account, queue message id): a
 *   redelivery stores no second copy, without a SELECT first.
 * Results come back in the order of the entries. A deadlock (another backend completing the
 * same messages in `inTransaction`) reruns the whole transaction, which is idempotent.
 */
export async function storeBatch(db: Db, p: StoreBatchParams): Promise<StoreResult[]> {
  if (p.entries.length === 0 && !p.inTransaction) return [];
  return retryOnDeadlock(() =>
    db.transaction(async (tx) => {
      const results = await storeIn(tx, p);
      await p.inTransaction?.(tx, results);
      return results;
    }),
  );
}

async function storeIn(tx: Executor, p: StoreBatchParams): Promise<StoreResult[]> {
  const results: Array<StoreResult | null> = p.entries.map(() => null);
  const live = (i: number) => results[i] === null;

  // Epochs: one statement for every dynamic account of the batch.
  const epochs = new Map<string, number>();
  for (const e of p.entries) if (e.epoch !== null) epochs.set(e.account, e.epoch);
  if (epochs.size > 0) {
    const rows = await queryRows(
      tx,
      sql`SELECT account, member, epoch FROM account_leases WHERE account = ANY(${pgArray([...epochs.keys()].sort())}::text[]) ORDER BY account FOR SHARE`,
    );
    const current = new Map(rows.map((r) => [str(r.account), { member: str(r.member), epoch: num(r.epoch) }]));
    p.entries.forEach((e, i) => {
      if (e.epoch === null) return;
      const c = current.get(e.account);
      if (!c || c.member !== p.member || c.epoch !== e.epoch) results[i] = { kind: "lease-lost", owner: c ? c.member : null };
    });
  }

  // The same message twice for one account in this batch (an alias and its target): one copy.
  const seen = new Set<string>();
  p.entries.forEach((e, i) => {
    const key = `${e.account}\0${e.queueMessageId}`;
    if (!live(i)) return;
    if (seen.has(key)) results[i] = { kind: "duplicate" };
    seen.add(key);
  });

  await checkQuota(tx, p.entries, results);

  // The rows, in as few statements as their size allows; each hands out its uids itself.
  const todo = p.entries.flatMap((e, i) => (live(i) ? [i] : []));
  for (let at = 0; at < todo.length; ) {
    const chunk: number[] = [];
    const bodies = new Set<Uint8Array>();
    let bytes = 0;
    while (at < todo.length) {
      const content = p.entries[todo[at]].content;
      const more = bodies.has(content) ? 0 : content.byteLength;
      if (chunk.length > 0 && bytes + more > INSERT_MAX_BYTES) break;
      bodies.add(content);
      bytes += more;
      chunk.push(todo[at++]);
    }
    const stored = await insertRows(tx, p, chunk.map((i) => p.entries[i]));
    for (const i of chunk) {
      const e = p.entries[i];
      const row = stored.get(`${e.account}\0${e.queueMessageId}`);
      // Stored before (a redelivery), or a concurrent twin won the unique index: the uid stays a gap.
      results[i] = row === undefined ? { kind: "duplicate" } : { kind: "stored", id: row.id, uid: row.uid, folder: e.folder };
    }
  }
  return results.map((r) => r ?? { kind: "duplicate" });
}

/**
 * Entries (each a distinct account and message) as mailbox rows, in ONE statement whose text is
 * the same for every batch size (each column an array parameter, the bodies one bytea sliced by
 * offset, a body shared by several entries sent once), so each connection prepares it once:
 * - uids: one upsert per (account, folder) takes a run of them, in (account, folder) order so
 *   concurrent stores lock folders in the same order; folders are created on demand;
 * - rows: inserted in entry order, uid = the run's start + rank within it; ON CONFLICT DO
 *   NOTHING on (account, queue message id): a redelivery stores no second copy, no SELECT first.
 * Returns the rows inserted, by account and queue message id.
 */
async function insertRows(tx: Executor, p: StoreBatchParams, entries: readonly StoreEntry[]): Promise<Map<string, { id: number; uid: number }>> {
  const offsets = new Map<Uint8Array, number>();
  let size = 0;
  for (const e of entries) {
    if (offsets.has(e.content)) continue;
    offsets.set(e.content, size);
    size += e.content.byteLength;
  }
  const bodies = new Uint8Array(size);
  for (const [content, at] of offsets) bodies.set(content, at);
  const col = (f: (e: StoreEntry) => string | number | null) => pgArray(entries.map(f));
  const rows = await queryRows(
    tx,
    sql`
    WITH v AS (
      SELECT * FROM unnest(
        ${col((e) => e.account)}::text[], ${col((e) => e.folder)}::text[], ${col((e) => e.queueMessageId)}::bigint[],
        ${col((e) => pgArray(e.flags))}::text[], ${col((e) => e.sender)}::text[], ${col((e) => e.subject)}::text[],
        ${col((e) => e.epoch ?? 0)}::bigint[], ${col((e) => offsets.get(e.content) as number)}::int[], ${col((e) => e.content.byteLength)}::int[]
      ) WITH ORDINALITY AS v(account, folder, queue_message_id, flags, sender, subject, stored_epoch, body_at, body_bytes, k)
    ),
    runs AS (SELECT account, folder, count(*)::int AS n FROM v GROUP BY account, folder),
    f AS (
      INSERT INTO mailbox_folders AS f (account, name, next_uid)
      SELECT account, folder, 1 + n FROM runs ORDER BY account, folder
      ON CONFLICT (account, name) DO UPDATE SET next_uid = f.next_uid + EXCLUDED.next_uid - 1
      RETURNING f.id, f.account, f.name, f.next_uid
    )
    INSERT INTO mailbox_messages (account, folder_id, uid, queue_message_id, flags, size_bytes, sender, subject, stored_epoch, stored_by, internal_date, content)
    SELECT v.account, f.id, f.next_uid - runs.n - 1 + row_number() OVER (PARTITION BY v.account, v.folder ORDER BY v.k)::int,
           v.queue_message_id, v.flags::text[], v.body_bytes, v.sender, v.subject, v.stored_epoch, ${p.member}, ${ts(p.internalDate)},
           substring(${bodies}::bytea FROM v.body_at + 1 FOR v.body_bytes)
    FROM v JOIN runs ON runs.account = v.account AND runs.folder = v.folder
           JOIN f ON f.account = v.account AND f.name = v.folder
    ORDER BY v.k
    ON CONFLICT (account, queue_message_id) DO NOTHING
    RETURNING id, account, queue_message_id, uid`,
  );
  return new Map(rows.map((r) => [`${str(r.account)}\0${num(r.queue_message_id)}`, { id: num(r.id), uid: num(r.uid) }]));
}

/**
 * Entries for accounts with a quota: lock those accounts (in address order), then one read of
 * their usage and of which of these messages they hold already (a redelivery is "already
 * stored", not "over quota"). Entries of one account count against each other in order.
 */
async function checkQuota(tx: Executor, entries: readonly StoreEntry[], results: Array<StoreResult | null>): Promise<void> {
  const limited = [...new Set(entries.filter((e, i) => results[i] === null && e.quotaBytes !== null).map((e) => e.account))].sort();
  if (limited.length === 0) return;
  const accounts = pgArray(limited);
  await tx.execute(sql`SELECT 1 FROM accounts WHERE address = ANY(${accounts}::text[]) ORDER BY address FOR NO KEY UPDATE`);
  // A statement of its own after the lock: its snapshot then includes what the holder committed.
  const messageIds = pgArray([...new Set(entries.map((e) => e.queueMessageId))]);
  const rows = await queryRows(
    tx,
    sql`SELECT account, coalesce(sum(size_bytes), 0)::bigint AS used,
               coalesce(array_agg(queue_message_id) FILTER (WHERE queue_message_id = ANY(${messageIds}::bigint[])), '{}') AS present
        FROM mailbox_messages WHERE account = ANY(${accounts}::text[]) GROUP BY account`,
  );
  const usage = new Map(rows.map((r) => [str(r.account), { used: num(r.used), present: new Set(presentIds(r.present)) }]));
  entries.forEach((e, i) => {
    if (results[i] !== null || e.quotaBytes === null) return;
    const u = usage.get(e.account) ?? { used: 0, present: new Set<number>() };
    usage.set(e.account, u);
    if (u.present.has(e.queueMessageId)) results[i] = { kind: "duplicate" };
    else if (u.used + e.content.byteLength > e.quotaBytes) results[i] = { kind: "over-quota", usedBytes: u.used, quotaBytes: e.quotaBytes };
    else u.used += e.content.byteLength;
  });
}

/** An int8[] as the drivers hand it back: an array, or PGlite/postgres.js text form. */
function presentIds(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(num);
  if (typeof value === "string") return value.replace(/[{}]/g, "").split(",").filter(Boolean).map(Number);
  return [];
}
