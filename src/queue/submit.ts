import { sql } from "drizzle-orm";
import type { ClientInfo, Envelope } from "../domain/types.ts";
import { domainOf, normalizeAddress } from "../domain/address.ts";
import type { Executor } from "../db/db.ts";
import { num, pgArray, queryRows, ts } from "../db/rows.ts";
import { wakeWorkers } from "./wake-up.ts";
import { bodyParts } from "./body.ts";
import { PgTransaction } from "drizzle-orm/pg-core";

export interface SubmitInput {
  envelope: Envelope;
  content: Uint8Array;
  client?: ClientInfo;
  /** Member that accepted or composed the message. */
  submittedBy: string;
  /** Member that must process it; null = the shared pool (locally-for-others members). */
  processor: string | null;
  kind?: "normal" | "dsn" | "generated";
  ruleInvocations?: number;
  now: Date;
}

export interface SubmitResult {
  messageId: number;
  recipientIds: number[];
}

export class SubmitError extends Error {
  override name = "SubmitError";
}

const MAX_ADDRESS_LENGTH = 512;

function validate(input: SubmitInput): void {
  const { envelope } = input;
  if (envelope.recipients.length === 0) throw new SubmitError("a message needs at least one recipient");
  if (envelope.sender.length > MAX_ADDRESS_LENGTH) throw new SubmitError("sender address too long");
  for (const r of envelope.recipients) {
    if (!r.address || domainOf(r.address) === "" || r.address.length > MAX_ADDRESS_LENGTH) {
      throw new SubmitError(`bad recipient address "${r.address}"`);
    }
  }
}

/**
 * Message, body and one queue row per recipient in ONE transaction: workers see all of it
 * or none of it; workers are woken only after the COMMIT.
 */
export async function submitMessage(db: Executor, input: SubmitInput): Promise<SubmitResult> {
  validate(input);
  const { envelope, client = {}, now } = input;
  const rcpts = envelope.recipients;
  // One statement: message, body and recipients are inserted together or not at all, in one
  // round trip. Workers are woken after the commit (see wake-up.ts).
  const parts = bodyParts(input.content);
  const insert = (ex: Executor) =>
    queryRows(
      ex,
      sql`
      WITH m AS (
        INSERT INTO messages (sender, size_bytes, client_address, client_hostname, client_helo, authenticated_user, tls, protocol,
                              dsn_envid, dsn_ret, kind, submitted_by, processor, rule_invocations, pending_recipients, created_at)
        VALUES (${envelope.sender}, ${input.content.byteLength}, ${client.address ?? null}, ${client.hostname ?? null}, ${client.helo ?? null},
                ${client.authenticatedUser ?? null}, ${client.tls ?? false}, ${client.protocol ?? null}, ${envelope.envid ?? null},
                ${envelope.ret ?? null}, ${input.kind ?? "normal"}, ${input.submittedBy}, ${input.processor},
                ${input.ruleInvocations ?? 0}, ${rcpts.length}, ${ts(now)})
        RETURNING id
      ),
      b AS (
        INSERT INTO message_bodies (message_id, part, content) SELECT id, 0, ${parts[0]}::bytea FROM m
      ),
      r AS (
        INSERT INTO recipients (message_id, address, domain, dsn_orcpt, dsn_notify, next_attempt_at, queued_at)
        SELECT m.id, x.address, x.domain, x.orcpt, x.notify, ${ts(now)}, ${ts(now)}
        FROM m, unnest(
          ${pgArray(rcpts.map((r) => normalizeAddress(r.address)))}::text[],
          ${pgArray(rcpts.map((r) => domainOf(r.address)))}::text[],
          ${pgArray(rcpts.map((r) => r.orcpt ?? null))}::text[],
          ${pgArray(rcpts.map((r) => (r.notify && r.notify.length > 0 ? r.notify.join(",") : null)))}::text[]
        ) WITH ORDINALITY AS x(address, domain, orcpt, notify, n)
        ORDER BY x.n
        RETURNING id, message_id
      )
      SELECT r.message_id, r.id FROM r ORDER BY r.id`,
    );
  // Small messages (nearly all): one statement. Large ones: the remaining parts in the same
  // transaction, one part per statement.
  const rows =
    parts.length === 1
      ? await insert(db)
      : await inTransaction(db, async (tx) => {
          const first = await insert(tx);
          const messageId = first.length > 0 ? num(first[0].message_id) : 0;
          for (let i = 1; i < parts.length; i++) {
            await tx.execute(sql`INSERT INTO message_bodies (message_id, part, content) VALUES (${messageId}, ${i}, ${parts[i]}::bytea)`);
          }
          return first;
        });
  if (rows.length !== rcpts.length) throw new SubmitError(`stored ${rows.length} of ${rcpts.length} recipients`);
  await wakeWorkers(db, input.processor ?? "");
  return { messageId: num(rows[0].message_id), recipientIds: rows.map((r) => num(r.id)) };
}

function inTransaction<T>(db: Executor, fn: (tx: Executor) => Promise<T>): Promise<T> {
  return db instanceof PgTransaction ? fn(db) : db.transaction((tx) => fn(tx));
}
