import { type SQL, sql } from "drizzle-orm";
import { ts } from "../db/rows.ts";

/**
 * The one rule for "a message is done": lower messages.pending_recipients by the recipients
 * that just became final, and stamp done_at when it reaches 0. Used as a data-modifying CTE
 * after a CTE named `fin(message_id, n)`; the caller adds its RETURNING list.
 */
export function settleMessages(now: Date): SQL {
  return sql`UPDATE messages m
        SET pending_recipients = m.pending_recipients - fin.n,
            done_at = CASE WHEN m.pending_recipients - fin.n <= 0 THEN ${ts(now)} ELSE NULL END
        FROM fin WHERE m.id = fin.message_id`;
}
