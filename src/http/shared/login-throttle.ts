import type { Context } from "hono";
import type { Clock } from "../../domain/types.ts";
import { AuthThrottle } from "../../smtp/auth-throttle.ts";

export interface LoginThrottleLimits {
  /** Wrong tokens from one address before it is refused for lockoutSeconds. */
  maxFailures: number;
  lockoutSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = { maxFailures: 10, lockoutSeconds: 300 };

/**
 * Per-address accounting of wrong admin tokens (admin API bearer, WebAdmin login), the SMTP AUTH
 * throttle's rules: after maxFailures the address gets 429 with Retry-After until the lockout
 * ends, whatever it sends. HTTP answers are not slowed down (that would only hold connections
 * open); the lockout alone caps guessing at maxFailures per lockout period and member.
 */
export class LoginThrottle {
  private readonly inner: AuthThrottle;

  constructor(
    clock: Clock,
    private readonly limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS,
  ) {
    this.inner = new AuthThrottle(clock);
  }

  /** Seconds the address must wait; 0 when it may try. */
  lockedFor(address: string): number {
    return this.inner.lockedFor(address);
  }

  fail(address: string): void {
    this.inner.fail(address, { maxFailures: this.limits.maxFailures, failureDelayMs: 0, lockoutSeconds: this.limits.lockoutSeconds });
  }

  succeed(address: string): void {
    this.inner.succeed(address);
  }
}

interface NodeEnv {
  incoming?: { socket?: { remoteAddress?: string } };
}
interface BunEnv {
  requestIP?: (request: Request) => { address: string } | null;
}
interface DenoEnv {
  remoteAddr?: { hostname?: string };
}

/**
 * The peer address of an HTTP request, from what each runtime's server hands the fetch handler
 * as its second argument (Hono's c.env): @hono/node-server the IncomingMessage, Bun the server
 * (requestIP), Deno the ServeHandlerInfo. Read by shape so src/ imports no runtime. Unknown
 * (a runtime that passes nothing, tests calling app.request) = one shared bucket.
 */
export function clientAddress(c: Context): string {
  const env: unknown = c.env;
  if (env && typeof env === "object") {
    const node = (env as NodeEnv).incoming?.socket?.remoteAddress;
    if (typeof node === "string" && node !== "") return node;
    const bun = env as BunEnv;
    if (typeof bun.requestIP === "function") {
      try {
        const ip = bun.requestIP(c.req.raw)?.address;
        if (ip) return ip;
      } catch {
        // Not Bun's server after all.
      }
    }
    const deno = (env as DenoEnv).remoteAddr?.hostname;
    if (typeof deno === "string" && deno !== "") return deno;
  }
  return "unknown";
}
