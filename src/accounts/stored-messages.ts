import { eq, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { date, num, queryRows, str, strOrNull } from "../db/rows.ts";
import { mailboxMessages } from "../db/schema/index.ts";
import { AccountError, canonicalAddress } from "./store.ts";

/** Read-only views of an account's stored mail, for operators (admin API, CLI). */

export interface StoredMessageSummary {
  id: number;
  folder: string;
  uid: number;
  sizeBytes: number;
  from: string | null;
  subject: string | null;
  date: Date;
  flags: string[];
}

/** Stored messages of one account, by folder then uid. 404 when the account does not exist. */
export async function listStoredMessages(db: Executor, address: string, limit = 1000): Promise<StoredMessageSummary[]> {
  const a = canonicalAddress(address);
  const acct = await queryRows(db, sql`SELECT 1 FROM accounts WHERE address = ${a}`);
  if (acct.length === 0) throw new AccountError(`no account ${address}`, 404);
  const rows = await queryRows(
    db,
    sql`SELECT mm.id, f.name AS folder, mm.uid, mm.size_bytes, mm.sender, mm.subject, mm.internal_date,
               array_to_string(mm.flags, ' ') AS flags
        FROM mailbox_messages mm JOIN mailbox_folders f ON f.id = mm.folder_id
        WHERE mm.account = ${a}
        ORDER BY f.name, mm.uid
        LIMIT ${Math.min(Math.max(limit, 1), 100_000)}`,
  );
  return rows.map((r) => ({
    id: num(r.id),
    folder: str(r.folder),
    uid: num(r.uid),
    sizeBytes: num(r.size_bytes),
    from: strOrNull(r.sender),
    subject: strOrNull(r.subject),
    date: date(r.internal_date),
    flags: str(r.flags).split(" ").filter(Boolean),
  }));
}

/** The raw RFC 5322 content of one stored message; null when there is none. */
export async function readStoredMessage(db: Executor, id: number): Promise<{ account: string; content: Uint8Array } | null> {
  if (!Number.isSafeInteger(id) || id <= 0) return null;
  const [row] = await db
    .select({ account: mailboxMessages.account, content: mailboxMessages.content })
    .from(mailboxMessages)
    .where(eq(mailboxMessages.id, id));
  return row ?? null;
}
