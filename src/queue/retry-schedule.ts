import type { Random } from "../domain/types.ts";

export interface RetryPolicy {
  initialSeconds: number;
  maxSeconds: number;
  jitter: number;
  lifetimeSeconds: number;
}

/**
 * Delay before attempt number `attempts + 1`, after `attempts` failed ones:
 * initial · 2^(attempts-1), capped, spread by ±jitter.
 */
export function retryDelayMs(policy: RetryPolicy, attempts: number, random: Random): number {
  const exponent = Math.max(0, attempts - 1);
  const base = Math.min(policy.initialSeconds * 2 ** Math.min(exponent, 40), policy.maxSeconds);
  const spread = policy.jitter > 0 ? 1 + policy.jitter * (2 * random.next() - 1) : 1;
  return Math.max(0, Math.round(base * spread * 1000));
}

/** True when a recipient queued at `queuedAt` has outlived the queue lifetime at `now`. */
export function isExpired(policy: RetryPolicy, queuedAt: Date, now: Date): boolean {
  return now.getTime() - queuedAt.getTime() >= policy.lifetimeSeconds * 1000;
}

export function policyFromSettings(s: {
  retry_initial_seconds: number;
  retry_max_seconds: number;
  retry_jitter: number;
  queue_lifetime_seconds: number;
}): RetryPolicy {
  return {
    initialSeconds: s.retry_initial_seconds,
    maxSeconds: s.retry_max_seconds,
    jitter: s.retry_jitter,
    lifetimeSeconds: s.queue_lifetime_seconds,
  };
}
