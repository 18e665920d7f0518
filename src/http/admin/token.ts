import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Executor } from "../../db/db.ts";
import { settings } from "../../db/schema/index.ts";
import type { Logger } from "../../util/logger.ts";

/**
 * The admin token lives in a dedicated settings row rather than a file in the data dir: every
 * member of the cluster then accepts the same token, and the first member to start creates
 * it race-free (insert-if-absent, then read back). The key is not one of DEFAULT_SETTINGS, so
 * `settings list`, GET /settings and PUT /settings never show or change it.
 */
export const ADMIN_TOKEN_KEY = "admin_token";
export const ADMIN_TOKEN_SQL = `SELECT value #>> '{}' FROM settings WHERE key = '${ADMIN_TOKEN_KEY}'`;

export type TokenSource = "env" | "generated" | "stored";

/** ADMIN_TOKEN when configured; otherwise the cluster's stored token, generated on first use. */
export async function resolveAdminToken(db: Executor, configured: string | null, logger: Logger): Promise<{ token: string; source: TokenSource }> {
  if (configured !== null && configured.trim() !== "") {
    if (configured.trim().length < 16) logger.warn("ADMIN_TOKEN is shorter than 16 characters: easy to guess");
    return { token: configured.trim(), source: "env" };
  }
  const fresh = randomBytes(24).toString("base64url");
  const inserted = await db.insert(settings).values({ key: ADMIN_TOKEN_KEY, value: fresh }).onConflictDoNothing().returning({ key: settings.key });
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, ADMIN_TOKEN_KEY));
  if (!row || typeof row.value !== "string" || row.value === "") throw new Error(`settings row "${ADMIN_TOKEN_KEY}" is not a token string`);
  const source: TokenSource = inserted.length > 0 ? "generated" : "stored";
  // Where it is, never the token itself: logs travel further than the database.
  logger.info({ where: `settings table, key "${ADMIN_TOKEN_KEY}"`, read: ADMIN_TOKEN_SQL, source }, source === "generated" ? "generated the admin API token" : "admin API token from the settings table");
  return { token: row.value, source };
}
