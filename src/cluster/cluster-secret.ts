import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import type { Executor } from "../db/db.ts";
import { queryRows } from "../db/rows.ts";

/**
 * Settings-table key of the generated delivery-channel secret. It is not one of the typed
 * DEFAULT_SETTINGS, so `settings list/set` neither shows nor overwrites it.
 */
export const CLUSTER_SECRET_KEY = "cluster_secret";

/**
 * The secret the delivery channel is signed with. CLUSTER_SECRET wins when set (then every
 * member must be given the same one). Without it the channel is never left open: the first
 * member to start generates 32 random bytes into the database, and everybody else (racing
 * or later) reads that one, since every member already trusts the database.
 */
export async function ensureClusterSecret(db: Executor, configured: string | null): Promise<string> {
  if (configured && configured.length > 0) return configured;
  const fresh = randomBytes(32).toString("base64url");
  await db.execute(sql`INSERT INTO settings (key, value) VALUES (${CLUSTER_SECRET_KEY}, to_jsonb(${fresh}::text)) ON CONFLICT (key) DO NOTHING`);
  const rows = await queryRows(db, sql`SELECT value #>> '{}' AS secret FROM settings WHERE key = ${CLUSTER_SECRET_KEY}`);
  const secret = rows[0]?.secret;
  if (typeof secret !== "string" || secret.length < 16) throw new Error("cluster secret in the settings table is missing or too short");
  return secret;
}

const cache = new WeakMap<AppContext, Promise<string>>();

/** Per running member, resolved once. A failed lookup is not cached, so the next call retries. */
export function clusterSecret(ctx: AppContext): Promise<string> {
  let p = cache.get(ctx);
  if (!p) {
    p = ensureClusterSecret(ctx.db, ctx.config.clusterSecret);
    p.catch(() => cache.delete(ctx));
    cache.set(ctx, p);
  }
  return p;
}
