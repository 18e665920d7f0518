import type { AppContext } from "../app-context.ts";
import type { ClaimedRecipient } from "../queue/claimed.ts";
import type { RecipientOutcome } from "../queue/worker.ts";

/**
 * A way out of the queue for recipients of ONE message: local delivery (to the backend that
 * owns the account) or the SMTP relay. Answers every recipient it is given.
 */
export type Transport = (ctx: AppContext, recipients: ClaimedRecipient[]) => Promise<RecipientOutcome[]>;
