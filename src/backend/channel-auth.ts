/**
 * Delivery-channel authentication: HMAC-SHA256 with the cluster secret over the method, the
 * path, a timestamp, a random nonce, (batch path) the member the request is meant for, and a
 * SHA-256 digest. The timestamp bounds replay to a short window, the nonce makes every
 * signature unique (accepted nonces are recorded in the database, so a replay is refused by
 * every member: channel-nonces.ts), the target name stops a request meant for one member from
 * being played to another, the digest ties it to the content.
 *
 * What the digest covers differs by path: on the single-message path (v1) the whole body; on
 * the batch path (v2) the header line only, which lists each message's own SHA-256, so the
 * receiver authenticates a request after reading a bounded header and before any content.
 *
 * node:crypto (which Node, Bun and Deno all provide), synchronously: a channel request is
 * signed, hashed and verified once each, and Web Crypto's async jobs cost far more in
 * scheduling than in hashing a header line (~5% of a backend's CPU under load). The signature
 * is compared in constant time (timingSafeEqual).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-mailcluster-signature";
export const TIMESTAMP_HEADER = "x-mailcluster-timestamp";
export const MEMBER_HEADER = "x-mailcluster-member";
export const NONCE_HEADER = "x-mailcluster-nonce";
export const TARGET_HEADER = "x-mailcluster-target";

export type SignedHeaders = Record<string, string>;

/** The authentication headers of a request, checked for shape and freshness (no body needed). */
export interface ChannelAuth {
  timestamp: string;
  timestampMs: number;
  nonce: string;
  signature: string;
  member: string;
  /** The member the sender meant; "" when it did not say (v1 senders). */
  target: string;
}

export type AuthCheck = { ok: true; auth: ChannelAuth } | { ok: false; reason: string };

/** SHA-256 (hex) of one buffer: a channel's body (v1), header line (v2) or message. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function mac(secret: string, data: string): Buffer {
  return createHmac("sha256", secret).update(data).digest();
}

/** v1 (target null) keeps its original form byte for byte, so members of both versions agree. */
function canonical(method: string, path: string, timestamp: string, nonce: string, target: string | null, digest: string): string {
  const parts = [method.toUpperCase(), path, timestamp, nonce, ...(target === null ? [] : [target]), digest];
  return parts.join("\n");
}

function randomNonce(): string {
  return randomBytes(16).toString("hex");
}

export interface SignParams {
  method: string;
  path: string;
  /** SHA-256 (hex) of what the path's digest covers. */
  digest: string;
  now: Date;
  member: string;
  /** Batch path: the receiving member's name ("" = not bound to one). v1: null. */
  target: string | null;
}

export async function signRequest(secret: string, p: SignParams): Promise<SignedHeaders> {
  const timestamp = String(p.now.getTime());
  const nonce = randomNonce();
  const signature = mac(secret, canonical(p.method, p.path, timestamp, nonce, p.target, p.digest)).toString("hex");
  const headers: SignedHeaders = { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signature, [MEMBER_HEADER]: p.member, [NONCE_HEADER]: nonce };
  if (p.target !== null) headers[TARGET_HEADER] = p.target;
  return headers;
}

/**
 * Everything that can be judged before reading a byte of the body: presence and shape of the
 * headers, freshness of the timestamp, and that the request is meant for this member.
 */
export function checkAuthHeaders(
  get: (name: string) => string | undefined,
  p: { now: Date; windowMs: number; me: string },
): AuthCheck {
  const timestamp = get(TIMESTAMP_HEADER);
  const signature = get(SIGNATURE_HEADER);
  const nonce = get(NONCE_HEADER);
  if (!timestamp || !signature || !nonce) return { ok: false, reason: "missing signature, timestamp or nonce" };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "malformed timestamp" };
  const timestampMs = Number(timestamp);
  if (Math.abs(p.now.getTime() - timestampMs) > p.windowMs) return { ok: false, reason: "timestamp outside the validity window" };
  if (!/^[0-9a-f]{16,64}$/.test(nonce)) return { ok: false, reason: "malformed nonce" };
  if (!/^[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: "malformed signature" };
  const member = get(MEMBER_HEADER) ?? "";
  if (member.length > 256) return { ok: false, reason: "malformed member name" };
  const target = get(TARGET_HEADER) ?? "";
  if (target !== "" && target !== p.me) return { ok: false, reason: `request signed for member ${target.slice(0, 256)}, not ${p.me}` };
  return { ok: true, auth: { timestamp, timestampMs, nonce, signature, member, target } };
}

/** True when the signature is the cluster's over this request; `target` null on the v1 path. */
export async function verifySignature(secret: string, method: string, path: string, auth: ChannelAuth, target: string | null, digest: string): Promise<boolean> {
  // checkAuthHeaders let through only 64 hex digits, so both sides are 32 bytes here.
  const given = Buffer.from(auth.signature, "hex");
  const expected = mac(secret, canonical(method, path, auth.timestamp, auth.nonce, target, digest));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
