import { eq, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { settings } from "../db/schema/index.ts";

/**
 * Cluster-wide settings with their defaults. Stored in the settings table (JSON values) so
 * every member sees the same; a key not in the table has its default.
 */
export const DEFAULT_SETTINGS = {
  /** First retry after a temporary failure. */
  retry_initial_seconds: 300,
  /** Backoff doubles up to this. */
  retry_max_seconds: 4000,
  /** ± fraction of random spread on each delay, so retries of a burst do not stampede. */
  retry_jitter: 0.1,
  /** A recipient still undelivered after this long fails (4.4.7). */
  queue_lifetime_seconds: 5 * 24 * 3600,
  /** Done messages (and bodies) are purged after this; attempts rows are kept as long. */
  retention_seconds: 7 * 24 * 3600,
  /** A member whose heartbeat is older than this is dead. */
  member_timeout_seconds: 30,
  heartbeat_interval_seconds: 5,
  /** How long a claim holds a recipient before another member may take it. Renewed while in flight. */
  queue_lease_seconds: 60,
  /** Fallback polling when no NOTIFY arrives. */
  queue_poll_interval_ms: 1000,
  /** Recipients taken per claim. */
  queue_claim_batch: 50,
} as const;

export type SettingKey = keyof typeof DEFAULT_SETTINGS;
export type Settings = { [K in SettingKey]: (typeof DEFAULT_SETTINGS)[K] extends number ? number : (typeof DEFAULT_SETTINGS)[K] };

export function isSettingKey(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key);
}

export async function loadSettings(db: Executor): Promise<Settings> {
  const rows = await db.select().from(settings);
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const row of rows) {
    if (isSettingKey(row.key) && typeof row.value === typeof DEFAULT_SETTINGS[row.key]) merged[row.key] = row.value;
  }
  return merged as Settings;
}

/** Validate against the default's type so a typo cannot silently break the cluster. */
export async function setSetting(db: Executor, key: string, value: unknown): Promise<void> {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}"`);
  const expected = typeof DEFAULT_SETTINGS[key];
  if (typeof value !== expected || (typeof value === "number" && !Number.isFinite(value))) {
    throw new SettingError(`setting "${key}" takes a ${expected}`);
  }
  if (typeof value === "number" && value < 0) throw new SettingError(`setting "${key}" must not be negative`);
  await db
    .insert(settings)
    .values({ key, value })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: sql`now()` } });
}

export async function resetSetting(db: Executor, key: string): Promise<void> {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}"`);
  await db.delete(settings).where(eq(settings.key, key));
}

export class SettingError extends Error {
  override name = "SettingError";
}
