import type { Clock } from "../domain/types.ts";

export interface AuthThrottleLimits {
  maxFailures: number;
  failureDelayMs: number;
  lockoutSeconds: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

const MAX_TRACKED = 10_000;

/**
 * Per-IP AUTH failure accounting: each failure is answered more slowly (failures × delay) and
 * after maxFailures the IP is refused for lockoutSeconds. In memory per frontend: a guesser
 * spreading over frontends gets maxFailures per frontend, which is still slow.
 */
export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  /** Seconds until the IP may try again; 0 when it may now. */
  lockedFor(ip: string): number {
    const e = this.entries.get(ip);
    if (!e) return 0;
    const left = e.lockedUntil - this.clock.now().getTime();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Records a failure; returns how long to wait before answering it. */
  fail(ip: string, limits: AuthThrottleLimits): number {
    const now = this.clock.now().getTime();
    let e = this.entries.get(ip);
    // Failures older than the lockout period are forgotten.
    if (e && now - e.lastFailureAt > limits.lockoutSeconds * 1000) e = undefined;
    if (!e) {
      if (this.entries.size >= MAX_TRACKED) this.prune(now, limits);
      e = { failures: 0, lastFailureAt: now, lockedUntil: 0 };
    }
    e.failures += 1;
    e.lastFailureAt = now;
    if (e.failures >= limits.maxFailures) e.lockedUntil = now + limits.lockoutSeconds * 1000;
    this.entries.set(ip, e);
    return Math.min(e.failures * limits.failureDelayMs, 10_000);
  }

  succeed(ip: string): void {
    this.entries.delete(ip);
  }

  failures(ip: string): number {
    return this.entries.get(ip)?.failures ?? 0;
  }

  private prune(now: number, limits: AuthThrottleLimits): void {
    for (const [ip, e] of this.entries) {
      if (e.lockedUntil < now && now - e.lastFailureAt > limits.lockoutSeconds * 1000) this.entries.delete(ip);
    }
    // Still full (an attack from very many addresses): drop the oldest rather than grow without bound.
    for (const ip of this.entries.keys()) {
      if (this.entries.size < MAX_TRACKED) break;
      this.entries.delete(ip);
    }
  }
}
