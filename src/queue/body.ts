import { and, asc, eq, gte } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { messageBodies } from "../db/schema/index.ts";

/** Size of one stored body part (see message_bodies). */
export const BODY_PART_BYTES = 1024 * 1024;

/** Split content into the parts message_bodies stores; at least one, even when empty. */
export function bodyParts(content: Uint8Array): Uint8Array[] {
  if (content.byteLength <= BODY_PART_BYTES) return [content];
  const parts: Uint8Array[] = [];
  for (let at = 0; at < content.byteLength; at += BODY_PART_BYTES) parts.push(content.subarray(at, at + BODY_PART_BYTES));
  return parts;
}

/**
 * The raw message, reassembled from its parts; null when the message has no body (purged).
 * Reads a few parts per query so a large message never sits in memory as one huge hex string.
 */
export async function readMessageBody(db: Executor, messageId: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  const perQuery = 4;
  for (;;) {
    const rows = await db
      .select({ part: messageBodies.part, content: messageBodies.content })
      .from(messageBodies)
      .where(and(eq(messageBodies.messageId, messageId), gte(messageBodies.part, chunks.length)))
      .orderBy(asc(messageBodies.part))
      .limit(perQuery);
    for (const r of rows) chunks.push(r.content);
    if (rows.length < perQuery) break;
  }
  if (chunks.length === 0) return null;
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
