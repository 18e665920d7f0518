import type { Transport } from "./transport.ts";

/** Local delivery through the delivery channel (issue: local delivery). */
export const deliverLocal: Transport = async (ctx, recipients) =>
  recipients.map((r) => ({
    recipientId: r.id,
    outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.3.2", text: `local delivery not available on ${ctx.config.memberName}` } },
  }));
