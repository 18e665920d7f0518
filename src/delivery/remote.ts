import type { Transport } from "./transport.ts";

/** Remote recipients go out through the SMTP relay (issue: outbound relay). */
export const relayRemote: Transport = async (ctx, recipients) =>
  recipients.map((r) => ({
    recipientId: r.id,
    outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.3.2", text: `relay not available on ${ctx.config.memberName}` } },
  }));
