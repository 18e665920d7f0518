import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Delivery-channel nonces already accepted, shared by every member: a request replayed to
 * another member, or to the same member after a restart, finds its nonce here and is refused
 * (src/backend/channel-nonces.ts). Rows are purged once their request's timestamp is past the
 * replay window (with a window of margin for clock skew between members).
 */
export const channelNonces = pgTable(
  "channel_nonces",
  {
    nonce: text("nonce").primaryKey(),
    /** Who signed the request (the sender's member name, as it claimed). */
    sender: text("sender").notNull(),
    /** Who accepted it first. */
    receiver: text("receiver").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("channel_nonces_expires_at").on(t.expiresAt)],
);
