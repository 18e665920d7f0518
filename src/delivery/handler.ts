import type { AppContext } from "../app-context.ts";
import { isLocalDomain } from "../accounts/lookup.ts";
import type { ClaimedRecipient } from "../queue/claimed.ts";
import type { DeliveryHandler, RecipientOutcome } from "../queue/worker.ts";
import { deliverLocal } from "./local.ts";
import { relayRemote } from "./remote.ts";
import type { Transport } from "./transport.ts";

export interface Transports {
  local: Transport;
  remote: Transport;
}

/**
 * The queue worker's delivery handler: recipients in a local domain go to local delivery,
 * everything else to the relay. Both halves of one message run in parallel.
 */
export function createDeliveryHandler(ctx: AppContext, transports: Transports = { local: deliverLocal, remote: relayRemote }): DeliveryHandler {
  return async (recipients) => {
    const local: ClaimedRecipient[] = [];
    const remote: ClaimedRecipient[] = [];
    const known = new Map<string, boolean>();
    for (const r of recipients) {
      let isLocal = known.get(r.domain);
      if (isLocal === undefined) {
        isLocal = await isLocalDomain(ctx.db, r.domain);
        known.set(r.domain, isLocal);
      }
      (isLocal ? local : remote).push(r);
    }
    const parts: Promise<RecipientOutcome[]>[] = [];
    if (local.length > 0) parts.push(transports.local(ctx, local));
    if (remote.length > 0) parts.push(transports.remote(ctx, remote));
    return (await Promise.all(parts)).flat();
  };
}
