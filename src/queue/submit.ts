import { sql } from "drizzle-orm";
import { domainOf } from "../domain/address.ts";
import type { Executor } from "../db/db.ts";
import { payloadFor } from "./channel.ts";
import { type WakeOptions, wakeWorkers } from "./wake-up.ts";
import { bodyParts } from "./body.ts";
import { insertMessages } from "./insert-messages.ts";
import type { SubmitInput, SubmitResult } from "./submit-input.ts";

/**
 * `inTransaction`: `db` is the caller's open transaction: the message is written in it (not in
 * one of its own), so it exists exactly when what the caller writes with it does, and never
 * otherwise; the workers' NOTIFY goes in it too. `wakeUp`: the member's WorkerWakeUp, so many
 * submissions close together cost one NOTIFY.
 */
export type SubmitOptions = WakeOptions;

export class SubmitError extends Error {
  override name = "SubmitError";
}

const MAX_ADDRESS_LENGTH = 512;

/** Refuses a bad envelope before anything is written. */
export function validate(input: SubmitInput): void {
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
 * Message, body and one queue row per recipient in ONE transaction (the caller's, when it says
 * so): workers see all of it or none of it; workers are woken only after the COMMIT. The SMTP
 * frontend submits through the group commit instead (group-commit.ts), which writes many
 * messages with the same statement.
 */
export async function submitMessage(db: Executor, input: SubmitInput, options: SubmitOptions = {}): Promise<SubmitResult> {
  validate(input);
  // Small messages (nearly all): one statement. Large ones: the remaining parts in the same
  // transaction, one part per statement.
  const parts = bodyParts(input.content);
  const [result] =
    parts.length === 1
      ? await insertMessages(db, [{ input, firstPart: parts[0] }])
      : await inTransaction(db, options, async (tx) => {
          const first = await insertMessages(tx, [{ input, firstPart: parts[0] }]);
          for (let i = 1; i < parts.length; i++) {
            await tx.execute(sql`INSERT INTO message_bodies (message_id, part, content) VALUES (${first[0].messageId}, ${i}, ${parts[i]}::bytea)`);
          }
          return first;
        });
  await wakeWorkers(db, payloadFor(input.processor), options);
  return result;
}

function inTransaction<T>(db: Executor, options: SubmitOptions, fn: (tx: Executor) => Promise<T>): Promise<T> {
  return options.inTransaction ? fn(db) : db.transaction((tx) => fn(tx));
}
