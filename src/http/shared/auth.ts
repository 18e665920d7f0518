import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";
import { clientAddress, type LoginThrottle } from "./login-throttle.ts";

/** Constant-time comparison (hashing first makes the lengths equal). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** 429 with Retry-After when the address is locked out for wrong tokens; nothing when it may try. */
export function refuseIfLocked(c: Context, throttle: LoginThrottle): void {
  const wait = throttle.lockedFor(clientAddress(c));
  if (wait <= 0) return;
  c.header("Retry-After", String(wait));
  throw new ApiError(429, `too many wrong tokens from your address, try again in ${wait} seconds`);
}

/**
 * Requires `Authorization: Bearer <token>`; anything else is a 401 with a JSON error. Wrong
 * tokens count against the client's address (a missing one does not: that is no guess).
 */
export function requireBearer(token: string, throttle: LoginThrottle): MiddlewareHandler {
  return async (c, next) => {
    refuseIfLocked(c, throttle);
    const given = bearerToken(c.req.header("authorization"));
    if (given === null) {
      c.header("WWW-Authenticate", 'Bearer realm="mailcluster"');
      throw new ApiError(401, "missing bearer token");
    }
    if (!sameSecret(given, token)) {
      throttle.fail(clientAddress(c));
      c.header("WWW-Authenticate", 'Bearer realm="mailcluster", error="invalid_token"');
      throw new ApiError(401, "invalid token");
    }
    throttle.succeed(clientAddress(c));
    await next();
  };
}
