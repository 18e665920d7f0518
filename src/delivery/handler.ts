import type { AppContext } from "../app-context.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import type { DeliveryHandler } from "../queue/worker.ts";
import type { BatchTransport, Transport } from "./transport.ts";

export interface Transports {
  local: BatchTransport;
  remote: Transport;
}

/**
 * The queue worker's delivery handler: the recipients of the batch in a local domain (the
 * in-memory directory says which) go to local delivery in one call, the others to the relay
 * in one call too (its suppression check and body reads are one statement each for the
 * batch; one SMTP transaction per message and destination). Both run in parallel.
 * Member gives it local delivery (deliverLocal) and its relay's transport (MemberRelay).
 */
export function createDeliveryHandler(ctx: AppContext, transports: Transports): DeliveryHandler {
  return async (recipients, recorder) => {
    await ctx.directory.whenFresh();
    const local: ClaimedRecipient[] = [];
    const remote: ClaimedRecipient[] = [];
    for (const r of recipients) (ctx.directory.isLocalDomain(r.domain) ? local : remote).push(r);
    const parts: Promise<RecipientOutcome[]>[] = [];
    if (local.length > 0) parts.push(transports.local(ctx, local, recorder));
    if (remote.length > 0) parts.push(transports.remote(ctx, remote));
    return (await Promise.all(parts)).flat();
  };
}
