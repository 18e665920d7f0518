import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

/** Constant-time comparison (hashing first makes the lengths equal). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What the WebAdmin cookie holds: derived from the token, so the token itself never sits in a cookie. */
export function sessionValue(token: string): string {
  return createHmac("sha256", token).update("mailcluster webadmin session v1").digest("base64url");
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** Requires `Authorization: Bearer <token>`; anything else is a 401 with a JSON error. */
export function requireBearer(token: string): MiddlewareHandler {
  return async (c, next) => {
    const given = bearerToken(c.req.header("authorization"));
    if (given === null) {
      c.header("WWW-Authenticate", 'Bearer realm="mailcluster"');
      throw new ApiError(401, "missing bearer token");
    }
    if (!sameSecret(given, token)) {
      c.header("WWW-Authenticate", 'Bearer realm="mailcluster", error="invalid_token"');
      throw new ApiError(401, "invalid token");
    }
    await next();
  };
}
