import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Delivery-channel authentication: HMAC-SHA256 with the cluster secret over the method, the
 * path, a timestamp, a random nonce and the SHA-256 of the body. The timestamp bounds replay
 * to a short window, the nonce makes every request's signature unique (so the receiver can
 * refuse an exact replay inside the window), the body digest ties it to the content.
 */
export const SIGNATURE_HEADER = "x-mailcluster-signature";
export const TIMESTAMP_HEADER = "x-mailcluster-timestamp";
export const MEMBER_HEADER = "x-mailcluster-member";
export const NONCE_HEADER = "x-mailcluster-nonce";

export interface SignedHeaders {
  [TIMESTAMP_HEADER]: string;
  [SIGNATURE_HEADER]: string;
  [MEMBER_HEADER]: string;
  [NONCE_HEADER]: string;
}

function canonical(method: string, path: string, timestampMs: string, nonce: string, body: Uint8Array): string {
  const digest = createHash("sha256").update(body).digest("hex");
  return `${method.toUpperCase()}\n${path}\n${timestampMs}\n${nonce}\n${digest}`;
}

export function signRequest(secret: string, method: string, path: string, body: Uint8Array, now: Date, member: string): SignedHeaders {
  const timestamp = String(now.getTime());
  const nonce = randomBytes(16).toString("hex");
  const signature = createHmac("sha256", secret).update(canonical(method, path, timestamp, nonce, body)).digest("hex");
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signature, [MEMBER_HEADER]: member, [NONCE_HEADER]: nonce };
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

export function verifyRequest(
  secret: string,
  p: {
    method: string;
    path: string;
    body: Uint8Array;
    timestamp: string | undefined;
    nonce: string | undefined;
    signature: string | undefined;
    now: Date;
    windowMs: number;
  },
): VerifyResult {
  if (!p.timestamp || !p.signature || !p.nonce) return { ok: false, reason: "missing signature, timestamp or nonce" };
  if (!/^[0-9a-f]{16,64}$/.test(p.nonce)) return { ok: false, reason: "malformed nonce" };
  if (!/^\d{1,16}$/.test(p.timestamp)) return { ok: false, reason: "malformed timestamp" };
  if (Math.abs(p.now.getTime() - Number(p.timestamp)) > p.windowMs) return { ok: false, reason: "timestamp outside the validity window" };
  if (!/^[0-9a-f]{64}$/.test(p.signature)) return { ok: false, reason: "malformed signature" };
  const expected = createHmac("sha256", secret).update(canonical(p.method, p.path, p.timestamp, p.nonce, p.body)).digest();
  if (!timingSafeEqual(expected, Buffer.from(p.signature, "hex"))) return { ok: false, reason: "wrong signature" };
  return { ok: true };
}

/**
 * Signatures already accepted, until their window passes: an exact replay inside the window
 * is refused too. (A sender retrying signs afresh with a new nonce, so it never collides.)
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  /** False when this signature was seen before. */
  accept(signature: string, nowMs: number, windowMs: number): boolean {
    if (this.seen.size > 10_000) this.prune(nowMs);
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, nowMs + 2 * windowMs);
    return true;
  }

  private prune(nowMs: number): void {
    for (const [sig, until] of this.seen) if (until <= nowMs) this.seen.delete(sig);
  }
}
