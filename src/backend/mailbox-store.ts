import { sql } from "drizzle-orm";
import { retryOnDeadlock } from "../db/deadlock.ts";
import type { Db, Executor, Tx } from "../db/db.ts";
import { num, pgArray, queryRows, str } from "../db/rows.ts";
import { mailboxMessages as mailboxMessagesTable } from "../db/schema/index.ts";

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

/** Rows per INSERT: bounded by bytes so a batch of large messages is not one giant statement. */
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

  // Uids: one upsert hands out a run of them per (account, folder).
  const runs = new Map<string, { account: string; folder: string; n: number; next: number; id: number }>();
  p.entries.forEach((e, i) => {
    if (!live(i)) return;
    const key = `${e.account}\0${e.folder}`;
    const run = runs.get(key);
    if (run) run.n += 1;
    else runs.set(key, { account: e.account, folder: e.folder, n: 1, next: 0, id: 0 });
  });
  if (runs.size === 0) return results.map((r) => r ?? { kind: "duplicate" });
  const ordered = [...runs.values()].sort((a, b) => (a.account === b.account ? (a.folder < b.folder ? -1 : 1) : a.account < b.account ? -1 : 1));
  const folders = await queryRows(
    tx,
    sql`INSERT INTO mailbox_folders AS f (account, name, next_uid)
        SELECT account, name, 1 + n FROM unnest(${pgArray(ordered.map((r) => r.account))}::text[], ${pgArray(ordered.map((r) => r.folder))}::text[], ${pgArray(ordered.map((r) => r.n))}::int[]) AS v(account, name, n)
        ON CONFLICT (account, name) DO UPDATE SET next_uid = f.next_uid + EXCLUDED.next_uid - 1
        RETURNING id, account, name, next_uid`,
  );
  for (const f of folders) {
    const run = runs.get(`${str(f.account)}\0${str(f.name)}`);
    if (!run) continue;
    run.id = num(f.id);
    run.next = num(f.next_uid) - run.n;
  }

  // The rows, in as few INSERTs as their size allows.
  const pending: Array<{ index: number; uid: number; folderId: number }> = [];
  p.entries.forEach((e, i) => {
    if (!live(i)) return;
    const run = runs.get(`${e.account}\0${e.folder}`);
    if (!run) return;
    pending.push({ index: i, uid: run.next++, folderId: run.id });
  });
  for (let at = 0; at < pending.length; ) {
    const chunk: typeof pending = [];
    let bytes = 0;
    while (at < pending.length && (chunk.length === 0 || bytes + p.entries[pending[at].index].content.byteLength <= INSERT_MAX_BYTES)) {
      bytes += p.entries[pending[at].index].content.byteLength;
      chunk.push(pending[at++]);
    }
    const inserted = await tx
      .insert(mailboxMessagesTable)
      .values(
        chunk.map(({ index, uid, folderId }) => {
          const e = p.entries[index];
          return {
            account: e.account,
            folderId,
            uid,
            queueMessageId: e.queueMessageId,
            flags: [...e.flags],
            sizeBytes: e.content.byteLength,
            sender: e.sender,
            subject: e.subject,
            storedEpoch: e.epoch ?? 0,
            storedBy: p.member,
            internalDate: p.internalDate,
            content: e.content,
          };
        }),
      )
      .onConflictDoNothing({ target: [mailboxMessagesTable.account, mailboxMessagesTable.queueMessageId] })
      .returning({ id: mailboxMessagesTable.id, account: mailboxMessagesTable.account, queueMessageId: mailboxMessagesTable.queueMessageId });
    const ids = new Map(inserted.map((r) => [`${r.account}\0${r.queueMessageId}`, r.id]));
    for (const { index, uid } of chunk) {
      const e = p.entries[index];
      const id = ids.get(`${e.account}\0${e.queueMessageId}`);
      // Stored before (a redelivery), or a concurrent twin won the unique index: the uid stays a gap.
      results[index] = id === undefined ? { kind: "duplicate" } : { kind: "stored", id, uid, folder: e.folder };
    }
  }
  return results.map((r) => r ?? { kind: "duplicate" });
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
