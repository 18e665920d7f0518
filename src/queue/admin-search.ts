import { type SQL, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { num, queryRows, str, strOrNull } from "../db/rows.ts";
import { itemFromRow, type QueueItem, type QueueStateFilter } from "./admin.ts";

/** A page of the queue for the WebAdmin: filters, offset, and the total that matches. */
export interface QueueSearch {
  state: QueueStateFilter;
  domain?: string;
  /** Substring of the envelope sender, case-insensitive. */
  sender?: string;
  /** Substring of the recipient address, case-insensitive. */
  recipient?: string;
  /** Substring of the Subject: stored at ingest, case-insensitive. */
  subject?: string;
  offset: number;
  limit: number;
}

export interface QueuePage {
  items: Array<QueueItem & { subject: string | null }>;
  total: number;
}

/** LIKE pattern matching `text` anywhere, with its own wildcards taken literally. */
function contains(text: string): string {
  return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

function whereSql(p: QueueSearch): SQL {
  const parts: SQL[] = [];
  if (p.state === "pending") parts.push(sql`r.state IN ('queued', 'held')`);
  else if (p.state !== "all") parts.push(sql`r.state = ${p.state}`);
  if (p.domain) parts.push(sql`r.domain = ${p.domain.trim().toLowerCase()}`);
  if (p.sender) parts.push(sql`m.sender ILIKE ${contains(p.sender)}`);
  if (p.recipient) parts.push(sql`r.address ILIKE ${contains(p.recipient)}`);
  if (p.subject) parts.push(sql`m.subject ILIKE ${contains(p.subject)}`);
  return parts.length === 0 ? sql`TRUE` : sql.join(parts, sql` AND `);
}

/** Oldest first, like listQueue; two statements (the page, the count) on the same filters. */
export async function searchQueue(db: Executor, p: QueueSearch): Promise<QueuePage> {
  const where = whereSql(p);
  const [rows, counted] = await Promise.all([
    queryRows(
      db,
      sql`SELECT r.id, r.message_id, m.sender, r.address, r.domain, r.state, r.attempts, r.queued_at, r.next_attempt_at,
                 r.locked_by, r.locked_until, r.last_code, r.last_status, r.last_text, m.subject
          FROM recipients r JOIN messages m ON m.id = r.message_id
          WHERE ${where}
          ORDER BY r.queued_at, r.id
          LIMIT ${p.limit} OFFSET ${p.offset}`,
    ),
    queryRows(db, sql`SELECT count(*)::int AS n FROM recipients r JOIN messages m ON m.id = r.message_id WHERE ${where}`),
  ]);
  return {
    total: num(counted[0]?.n ?? 0),
    items: rows.map((r) => ({ ...itemFromRow(r), subject: strOrNull(r.subject) })),
  };
}

/** Recipients per state over the whole table (done ones stay until purged). */
export async function queueStateCounts(db: Executor): Promise<Record<string, number>> {
  const rows = await queryRows(db, sql`SELECT state, count(*)::int AS n FROM recipients GROUP BY state`);
  const out: Record<string, number> = { queued: 0, held: 0, delivered: 0, failed: 0 };
  for (const r of rows) out[str(r.state)] = num(r.n);
  return out;
}

/** Unfinished messages per processor (null = the shared pool): what each member has to work through. */
export async function pendingByProcessor(db: Executor): Promise<Map<string | null, number>> {
  const rows = await queryRows(db, sql`SELECT processor, count(*)::int AS n FROM messages WHERE done_at IS NULL GROUP BY processor`);
  return new Map(rows.map((r) => [strOrNull(r.processor), num(r.n)]));
}
