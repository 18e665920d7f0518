import { doublePrecision, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Cluster-wide traffic shaping per destination site (see src/shaping/). A site is the key
 * src/shaping/site.ts derives: "mx:<sorted MX host names>", or a route's/forwarder's destination.
 */

/** Connection semaphore: one row per slot of a site; a slot is held while its lease lasts. */
export const shapingSlots = pgTable(
  "shaping_slots",
  {
    site: text("site").notNull(),
    slot: integer("slot").notNull(),
    holder: text("holder"),
    /** A member that dies leaves its slots; they are free again once this passes. */
    leaseUntil: timestamp("lease_until", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.site, t.slot] })],
);

/** Token buckets (connections and messages per minute) of a site, refilled on each update. */
export const shapingBuckets = pgTable("shaping_buckets", {
  site: text("site").primaryKey(),
  connectionTokens: doublePrecision("connection_tokens").notNull().default(0),
  messageTokens: doublePrecision("message_tokens").notNull().default(0),
  /** Message tokens handed out by the last update (RETURNING cannot see the old balance). */
  granted: integer("granted").notNull().default(0),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull(),
});

/** A site suspended (max_connections NULL) or slowed (to max_connections) until a time. */
export const shapingSuspensions = pgTable("shaping_suspensions", {
  site: text("site").primaryKey(),
  until: timestamp("until", { withTimezone: true }).notNull(),
  maxConnections: integer("max_connections"),
  /** The reply (or operator note) that caused it. */
  reason: text("reason").notNull(),
  /** Recipient domains whose queued recipients were pushed past `until`. */
  domains: text("domains").array().notNull().default([]),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
});

/** Per-destination overrides of the relay_destination_* settings; NULL = the setting. */
export const shapingLimits = pgTable("shaping_limits", {
  /** A recipient domain, a site key ("mx:…") or a route destination ("route:…"). */
  destination: text("destination").primaryKey(),
  maxConnections: integer("max_connections"),
  messagesPerMinute: integer("messages_per_minute"),
  connectionsPerMinute: integer("connections_per_minute"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Response-driven rules: a reply matching `pattern` suspends or slows its site for `seconds`. */
export const shapingRules = pgTable("shaping_rules", {
  id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
  /** Case-insensitive regular expression on "<code> <enhanced> <text>". */
  pattern: text("pattern").notNull(),
  /** suspend | slow */
  action: text("action").notNull(),
  seconds: integer("seconds").notNull(),
  /** For slow: connections allowed meanwhile. */
  maxConnections: integer("max_connections"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
