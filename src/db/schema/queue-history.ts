import { integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Queue depth per state, one row per sampling slot (src/queue/depth-history.ts): the history
 * behind the overview's "queue depth over the last hour". The slot start is the key, so two
 * members sampling the same slot during a hand-over of the exporter role store it once.
 */
export const queueDepthSamples = pgTable("queue_depth_samples", {
  sampledAt: timestamp("sampled_at", { withTimezone: true }).primaryKey(),
  /** Waiting recipients never tried yet. */
  queued: integer("queued").notNull(),
  /** Waiting recipients tried at least once (waiting for their next attempt). */
  deferred: integer("deferred").notNull(),
  held: integer("held").notNull(),
  /** The member that took the sample. */
  sampledBy: text("sampled_by").notNull(),
});
