import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { queryRows, ts } from "../db/rows.ts";

export interface PurgeParams {
  now: Date;
  retentionSeconds: number;
  /** Rows per statement, so a large purge never holds long locks. */
  batch?: number;
}

export interface PurgeSummary {
  messages: number;
  attempts: number;
}

/** Drop done messages (bodies and recipients cascade) and attempt rows older than the retention. */
export async function purgeExpired(db: Executor, p: PurgeParams): Promise<PurgeSummary> {
  const cutoff = new Date(p.now.getTime() - p.retentionSeconds * 1000);
  const batch = p.batch ?? 1000;
  let messages = 0;
  let attempts = 0;
  for (;;) {
    const rows = await queryRows(
      db,
      sql`DELETE FROM messages WHERE id IN (
            SELECT id FROM messages WHERE done_at IS NOT NULL AND done_at < ${ts(cutoff)} LIMIT ${batch})
          RETURNING id`,
    );
    messages += rows.length;
    if (rows.length < batch) break;
  }
  for (;;) {
    const rows = await queryRows(
      db,
      sql`DELETE FROM attempts WHERE id IN (
            SELECT id FROM attempts WHERE started_at < ${ts(cutoff)} LIMIT ${batch})
          RETURNING id`,
    );
    attempts += rows.length;
    if (rows.length < batch) break;
  }
  return { messages, attempts };
}
