import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
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

/**
 * The member's cluster secret (ctx.clusterSecret), which Member builds: resolved once, on first
 * use, and kept for the member's life (the settings row never changes once written, and
 * CLUSTER_SECRET is read at start). A failed lookup is not kept, so the next call retries.
 */
export class ClusterSecret {
  private resolved: Promise<string> | null = null;

  constructor(
    private readonly db: Executor,
    /** CLUSTER_SECRET (config.clusterSecret), which wins when set. */
    private readonly configured: string | null,
  ) {}

  get(): Promise<string> {
    if (!this.resolved) {
      const p = ensureClusterSecret(this.db, this.configured);
      this.resolved = p;
      p.catch(() => {
        if (this.resolved === p) this.resolved = null;
      });
    }
    return this.resolved;
  }
}
