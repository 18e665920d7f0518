import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * WebAdmin sessions, shared by every member (a load balancer may send the next request to
 * another one). The cookie holds a random secret; the row holds only its SHA-256, so a copy of
 * the table logs nobody in. Logging out deletes the row: the cookie is refused from then on, on
 * every member. Expired rows are purged when someone logs in.
 */
export const adminSessions = pgTable(
  "admin_sessions",
  {
    /** base64url SHA-256 of the cookie's secret. */
    secretHash: text("secret_hash").primaryKey(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    /** The client's address at login, for the operator reading the table. */
    client: text("client"),
  },
  (t) => [index("admin_sessions_expires_at").on(t.expiresAt)],
);
