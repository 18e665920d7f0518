import type { AppContext } from "../app-context.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import type { OutcomeRecorder } from "../queue/recorder.ts";

/**
 * The SMTP relay's way out of the queue: the remote recipients of a claimed batch, of one
 * message or many (the relay makes one SMTP transaction per message and destination).
 * Answers every recipient it is given.
 */
export type Transport = (ctx: AppContext, recipients: ClaimedRecipient[]) => Promise<RecipientOutcome[]>;

/**
 * Local delivery's way out: the local recipients of a whole claimed batch, many messages. It
 * may record outcomes in its own store transaction through `recorder`; it answers the rest.
 */
export type BatchTransport = (ctx: AppContext, recipients: ClaimedRecipient[], recorder: OutcomeRecorder) => Promise<RecipientOutcome[]>;
