import { createHash, randomBytes } from "node:crypto";
import { and, eq, gt, lte } from "drizzle-orm";
import type { Executor } from "../../db/db.ts";
import { adminSessions } from "../../db/schema/index.ts";

/** How long a WebAdmin login lasts; after that the cookie is refused and the form comes back. */
export const SESSION_TTL_SECONDS = 12 * 3600;

function hashOf(secret: string): string {
  return createHash("sha256").update(secret).digest("base64url");
}

export interface NewSession {
  /** Goes into the cookie, and nowhere else. */
  secret: string;
  expiresAt: Date;
}

/** A fresh session row; expired rows of anyone are purged on the way. */
export async function createSession(db: Executor, now: Date, client: string | null): Promise<NewSession> {
  const secret = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + SESSION_TTL_SECONDS * 1000);
  await db.delete(adminSessions).where(lte(adminSessions.expiresAt, now));
  await db.insert(adminSessions).values({ secretHash: hashOf(secret), createdAt: now, expiresAt, client });
  return { secret, expiresAt };
}

/** Whether the cookie's secret names a session that has not expired or been ended. */
export async function isLiveSession(db: Executor, secret: string, now: Date): Promise<boolean> {
  // A well-formed secret is 43 base64url characters; anything else cannot match and costs no query.
  if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return false;
  const rows = await db
    .select({ h: adminSessions.secretHash })
    .from(adminSessions)
    .where(and(eq(adminSessions.secretHash, hashOf(secret)), gt(adminSessions.expiresAt, now)));
  return rows.length > 0;
}

/** Logout: the row goes, so the same cookie is refused by every member from now on. */
export async function endSession(db: Executor, secret: string): Promise<void> {
  await db.delete(adminSessions).where(eq(adminSessions.secretHash, hashOf(secret)));
}
