import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { pgArray } from "../db/rows.ts";
import { messageBodies } from "../db/schema/index.ts";
import { readMessageBody } from "../queue/body.ts";

/**
 * The bodies of a batch's messages in ONE statement: each message's first part, and whether
 * more follow. The rare message above one part (1 MiB) is then read on its own, a few parts
 * per query (body.ts), so a batch of large messages never arrives as one huge result.
 * A message without a body (purged) is missing from the answer.
 */
export async function loadBodies(db: Executor, messageIds: readonly number[]): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  if (messageIds.length === 0) return out;
  const rows = await db
    .select({
      messageId: messageBodies.messageId,
      content: messageBodies.content,
      more: sql<unknown>`exists (SELECT 1 FROM message_bodies n WHERE n.message_id = ${messageBodies.messageId} AND n.part = 1)`,
    })
    .from(messageBodies)
    .where(sql`${messageBodies.messageId} = ANY(${pgArray([...new Set(messageIds)])}::bigint[]) AND ${messageBodies.part} = 0`);
  const large: number[] = [];
  for (const r of rows) {
    if (r.more === true || r.more === "t") large.push(r.messageId);
    else out.set(r.messageId, r.content);
  }
  for (const id of large) {
    const body = await readMessageBody(db, id);
    if (body) out.set(id, body);
  }
  return out;
}
