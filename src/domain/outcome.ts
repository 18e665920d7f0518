// Delivery outcomes as values, made in one place: what the worker, local delivery and the relay
// answer for a recipient (2xx delivered, 4xx deferred, 5xx failed). A leaf: domain types only.
import type { DeliveryOutcome, SmtpReply } from "./types.ts";

/** 2xx: done; nothing more to try. */
export function delivered(code: number, enhanced: string | null, text: string): DeliveryOutcome {
  return { kind: "delivered", reply: { code, enhanced, text } };
}

/** 4xx: try again later (when the retry schedule says). */
export function deferred(code: number, enhanced: string | null, text: string): DeliveryOutcome {
  return { kind: "deferred", reply: { code, enhanced, text } };
}

/** 5xx: final; the sender gets a DSN. */
export function failed(code: number, enhanced: string | null, text: string): DeliveryOutcome {
  return { kind: "failed", reply: { code, enhanced, text } };
}

/** What a server's reply says: 2xx delivered, 5xx failed, anything else deferred. */
export function outcomeOf(reply: SmtpReply, remoteHost: string | null = null): DeliveryOutcome {
  if (reply.code >= 200 && reply.code < 300) return { kind: "delivered", reply, remoteHost };
  if (reply.code >= 500) return { kind: "failed", reply, remoteHost };
  return { kind: "deferred", reply, remoteHost };
}
