import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Transport map: a domain (or '*') → relay hosts, like Postfix transport_maps. */
export const routes = pgTable("routes", {
  domain: text("domain").primaryKey(),
  /** Comma-separated host[:port] list, tried in order. */
  hosts: text("hosts").notNull(),
  /** none | may | encrypt | verify (src/relay/routes-store.ts). */
  tls: text("tls").notNull().default("may"),
  authUser: text("auth_user"),
  authPass: text("auth_pass"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
