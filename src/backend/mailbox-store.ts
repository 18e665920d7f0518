import { sql } from "drizzle-orm";
import type { Db } from "../db/db.ts";
import { num, queryRows } from "../db/rows.ts";
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

/**
 * Store one message for one account, in one transaction:
 * - re-check the lease epoch under FOR SHARE, so a takeover (an UPDATE of that row) waits for
 *   this store to commit, and a store after a takeover sees the new epoch and writes nothing;
 * - idempotent on (account, queue message id): a redelivery stores no second copy;
 * - quota under a row lock on the account, so concurrent stores cannot overshoot together;
 * - the folder is created on demand and hands out the next uid in the same statement.
 */
export async function storeMessage(db: Db, p: StoreParams): Promise<StoreResult> {
  return db.transaction(async (tx): Promise<StoreResult> => {
    if (p.epoch !== null) {
      const lease = await queryRows(tx, sql`SELECT member, epoch FROM account_leases WHERE account = ${p.account} FOR SHARE`);
      const row = lease[0];
      if (!row || row.member !== p.member || num(row.epoch) !== p.epoch) {
        return { kind: "lease-lost", owner: row && typeof row.member === "string" ? row.member : null };
      }
    }
    const dup = await queryRows(tx, sql`SELECT 1 FROM mailbox_messages WHERE account = ${p.account} AND queue_message_id = ${p.queueMessageId}`);
    if (dup.length > 0) return { kind: "duplicate" };

    if (p.quotaBytes !== null) {
      await tx.execute(sql`SELECT 1 FROM accounts WHERE address = ${p.account} FOR NO KEY UPDATE`);
      const used = await queryRows(tx, sql`SELECT coalesce(sum(size_bytes), 0)::bigint AS used FROM mailbox_messages WHERE account = ${p.account}`);
      const usedBytes = num(used[0].used);
      if (usedBytes + p.content.byteLength > p.quotaBytes) return { kind: "over-quota", usedBytes, quotaBytes: p.quotaBytes };
    }

    const folder = await queryRows(
      tx,
      sql`INSERT INTO mailbox_folders AS f (account, name, next_uid) VALUES (${p.account}, ${p.folder}, 2)
          ON CONFLICT (account, name) DO UPDATE SET next_uid = f.next_uid + 1
          RETURNING id, next_uid - 1 AS uid`,
    );
    const folderId = num(folder[0].id);
    const uid = num(folder[0].uid);
    const [inserted] = await tx
      .insert(mailboxMessagesTable)
      .values({
        account: p.account,
        folderId,
        uid,
        queueMessageId: p.queueMessageId,
        flags: [...p.flags],
        sizeBytes: p.content.byteLength,
        sender: p.sender,
        subject: p.subject,
        storedEpoch: p.epoch ?? 0,
        storedBy: p.member,
        internalDate: p.internalDate,
        content: p.content,
      })
      .onConflictDoNothing({ target: [mailboxMessagesTable.account, mailboxMessagesTable.queueMessageId] })
      .returning({ id: mailboxMessagesTable.id });
    // A concurrent twin of this delivery won the unique index: the uid we took stays a gap.
    if (!inserted) return { kind: "duplicate" };
    return { kind: "stored", id: inserted.id, uid, folder: p.folder };
  });
}
