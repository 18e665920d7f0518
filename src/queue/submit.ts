import { sql } from "drizzle-orm";
import type { ClientInfo, Envelope } from "../domain/types.ts";
import { domainOf, normalizeAddress } from "../domain/address.ts";
import type { Db } from "../db/db.ts";
import { messageBodies, messages, recipients } from "../db/schema/index.ts";
import { QUEUE_CHANNEL } from "./channel.ts";

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
 * or none of it. The NOTIFY is transactional too, so nobody is woken before COMMIT.
 */
export async function submitMessage(db: Db, input: SubmitInput): Promise<SubmitResult> {
  validate(input);
  const { envelope, client = {}, now } = input;
  return db.transaction(async (tx) => {
    const [message] = await tx
      .insert(messages)
      .values({
        sender: envelope.sender,
        sizeBytes: input.content.byteLength,
        clientAddress: client.address ?? null,
        clientHostname: client.hostname ?? null,
        clientHelo: client.helo ?? null,
        authenticatedUser: client.authenticatedUser ?? null,
        tls: client.tls ?? false,
        protocol: client.protocol ?? null,
        dsnEnvid: envelope.envid ?? null,
        dsnRet: envelope.ret ?? null,
        kind: input.kind ?? "normal",
        submittedBy: input.submittedBy,
        processor: input.processor,
        ruleInvocations: input.ruleInvocations ?? 0,
        pendingRecipients: envelope.recipients.length,
        createdAt: now,
      })
      .returning({ id: messages.id });
    await tx.insert(messageBodies).values({ messageId: message.id, content: input.content });
    const rows = await tx
      .insert(recipients)
      .values(
        envelope.recipients.map((r) => ({
          messageId: message.id,
          address: normalizeAddress(r.address),
          domain: domainOf(r.address),
          dsnOrcpt: r.orcpt ?? null,
          dsnNotify: r.notify && r.notify.length > 0 ? r.notify.join(",") : null,
          nextAttemptAt: now,
          queuedAt: now,
        })),
      )
      .returning({ id: recipients.id });
    await tx.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${input.processor ?? ""})`);
    return { messageId: message.id, recipientIds: rows.map((r) => r.id) };
  });
}
