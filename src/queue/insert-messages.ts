import { sql } from "drizzle-orm";
import { domainOf, normalizeAddress } from "../domain/address.ts";
import type { Executor } from "../db/db.ts";
import { num, pgArray, queryRows, ts } from "../db/rows.ts";
import { headerSummaryFromContent, type HeaderSummary } from "./header-summary.ts";
import type { SubmitInput, SubmitResult } from "./submit-input.ts";

export interface MessageToInsert {
  input: SubmitInput;
  /** Body part 0 (all of it for a message of one part); further parts are the caller's. */
  firstPart: Uint8Array;
}

/**
 * Messages, their first body parts and one queue row per recipient for MANY messages in ONE
 * statement: all of it commits or none of it. Message ids come from the identity sequence
 * inside the statement (`m` is materialised once), so bodies and recipients can refer to them
 * without a round trip; the input's position `n` maps results back to callers. Every column is
 * one array parameter and the bodies one bytea, so the statement's text is the same for every
 * batch size: each connection prepares it once (a VALUES row per message made each size a new
 * statement to parse, describe and plan).
 */
export async function insertMessages(db: Executor, items: readonly MessageToInsert[]): Promise<SubmitResult[]> {
  if (items.length === 0) return [];
  if (items.length === 1) return [await insertOne(db, items[0])];
  const bodies = concatParts(items.map((x) => x.firstPart));
  const bodyAt: number[] = [];
  items.reduce((at, { firstPart }) => (bodyAt.push(at), at + firstPart.byteLength), 0);
  const col = (f: (m: MessageToInsert) => string | number | null) => pgArray(items.map(f));
  const heads = items.map(({ input }) => headersOf(input));
  const rcpt = items.flatMap(({ input }, i) => input.envelope.recipients.map((r) => ({ n: i + 1, r })));
  const result = await queryRows(
    db,
    sql`
    WITH m AS MATERIALIZED (
      SELECT nextval('messages_id_seq') AS id, input.*
      FROM unnest(
        ${col(({ input }) => input.envelope.sender)}::text[], ${col(({ input }) => input.content.byteLength)}::int[],
        ${col(({ input }) => input.client?.address ?? null)}::text[], ${col(({ input }) => input.client?.hostname ?? null)}::text[],
        ${col(({ input }) => input.client?.helo ?? null)}::text[], ${col(({ input }) => input.client?.authenticatedUser ?? null)}::text[],
        ${col(({ input }) => String(input.client?.tls ?? false))}::boolean[], ${col(({ input }) => input.client?.protocol ?? null)}::text[],
        ${col(({ input }) => input.envelope.envid ?? null)}::text[], ${col(({ input }) => input.envelope.ret ?? null)}::text[],
        ${col(({ input }) => input.kind ?? "normal")}::text[], ${col(({ input }) => input.submittedBy)}::text[],
        ${col(({ input }) => input.processor)}::text[], ${col(({ input }) => input.ruleInvocations ?? 0)}::int[],
        ${col(({ input }) => input.envelope.recipients.length)}::int[], ${col(({ input }) => input.now.toISOString())}::timestamptz[],
        ${pgArray(bodyAt)}::int[],
        ${col(({ firstPart }) => firstPart.byteLength)}::int[],
        ${pgArray(heads.map((h) => h.subject))}::text[], ${pgArray(heads.map((h) => h.messageId))}::text[]
      ) WITH ORDINALITY AS input (sender, size_bytes, client_address, client_hostname, client_helo, authenticated_user, tls, protocol,
                                  dsn_envid, dsn_ret, kind, submitted_by, processor, rule_invocations, pending_recipients, created_at,
                                  body_at, body_bytes, subject, header_message_id, n)
    ),
    ins AS (
      INSERT INTO messages (id, sender, size_bytes, client_address, client_hostname, client_helo, authenticated_user, tls, protocol,
                            dsn_envid, dsn_ret, kind, submitted_by, processor, rule_invocations, pending_recipients, created_at,
                            subject, header_message_id)
      OVERRIDING SYSTEM VALUE
      SELECT id, sender, size_bytes, client_address, client_hostname, client_helo, authenticated_user, tls, protocol,
             dsn_envid, dsn_ret, kind, submitted_by, processor, rule_invocations, pending_recipients, created_at,
             subject, header_message_id
      FROM m
    ),
    b AS (
      INSERT INTO message_bodies (message_id, part, content) SELECT id, 0, substring(${bodies}::bytea FROM body_at + 1 FOR body_bytes) FROM m
    ),
    r AS (
      INSERT INTO recipients (message_id, address, domain, dsn_orcpt, dsn_notify, next_attempt_at, queued_at)
      SELECT m.id, x.address, x.domain, x.orcpt, x.notify, m.created_at, m.created_at
      FROM unnest(
        ${pgArray(rcpt.map((x) => x.n))}::int[],
        ${pgArray(rcpt.map((x) => normalizeAddress(x.r.address)))}::text[],
        ${pgArray(rcpt.map((x) => domainOf(x.r.address)))}::text[],
        ${pgArray(rcpt.map((x) => x.r.orcpt ?? null))}::text[],
        ${pgArray(rcpt.map((x) => (x.r.notify && x.r.notify.length > 0 ? x.r.notify.join(",") : null)))}::text[]
      ) WITH ORDINALITY AS x(n, address, domain, orcpt, notify, k)
      JOIN m ON m.n = x.n
      ORDER BY x.k
      RETURNING id, message_id
    )
    SELECT m.n, r.message_id, r.id FROM r JOIN m ON m.id = r.message_id ORDER BY r.id`,
  );
  const out: SubmitResult[] = items.map(() => ({ messageId: 0, recipientIds: [] }));
  for (const row of result) {
    const o = out[num(row.n) - 1];
    o.messageId = num(row.message_id);
    o.recipientIds.push(num(row.id));
  }
  items.forEach(({ input }, i) => {
    const stored = out[i].recipientIds.length;
    if (stored !== input.envelope.recipients.length) throw new Error(`stored ${stored} of ${input.envelope.recipients.length} recipients`);
  });
  return out;
}

/** Subject and Message-ID for the delivery log's search; the SMTP frontend hands them over parsed. */
function headersOf(input: SubmitInput): HeaderSummary {
  return input.headers ?? headerSummaryFromContent(input.content);
}

/** The batch's bodies as one parameter: one bytea value is cheaper to send than an array of them. */
function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}


/**
 * One message: the same rows with a simpler statement (the identity assigns the id, no input
 * CTE to materialise), measurably cheaper for PostgreSQL. A lone session's message and every
 * submitMessage take this path, so their latency is what it was before group commit.
 */
async function insertOne(db: Executor, { input, firstPart }: MessageToInsert): Promise<SubmitResult> {
  const { envelope, client = {}, now } = input;
  const rcpts = envelope.recipients;
  const head = headersOf(input);
  const rows = await queryRows(
    db,
    sql`
    WITH m AS (
      INSERT INTO messages (sender, size_bytes, client_address, client_hostname, client_helo, authenticated_user, tls, protocol,
                            dsn_envid, dsn_ret, kind, submitted_by, processor, rule_invocations, pending_recipients, created_at,
                            subject, header_message_id)
      VALUES (${envelope.sender}, ${input.content.byteLength}, ${client.address ?? null}, ${client.hostname ?? null}, ${client.helo ?? null},
              ${client.authenticatedUser ?? null}, ${client.tls ?? false}, ${client.protocol ?? null}, ${envelope.envid ?? null},
              ${envelope.ret ?? null}, ${input.kind ?? "normal"}, ${input.submittedBy}, ${input.processor},
              ${input.ruleInvocations ?? 0}, ${rcpts.length}, ${ts(now)}, ${head.subject}, ${head.messageId})
      RETURNING id
    ),
    b AS (
      INSERT INTO message_bodies (message_id, part, content) SELECT id, 0, ${firstPart}::bytea FROM m
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
  if (rows.length !== rcpts.length) throw new Error(`stored ${rows.length} of ${rcpts.length} recipients`);
  return { messageId: num(rows[0].message_id), recipientIds: rows.map((r) => num(r.id)) };
}
