import { integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** One row per running process. The table is the cluster controller: liveness = recent heartbeat_at. */
export const members = pgTable("members", {
  name: text("name").primaryKey(),
  /** e.g. {frontend,backend} */
  roles: text("roles").array().notNull(),
  /** host:port where the member accepts SMTP, when it is a frontend. */
  smtpEndpoint: text("smtp_endpoint"),
  /** Base URL of the member's HTTP port (delivery channel, admin API). */
  httpUrl: text("http_url"),
  submitMode: text("submit_mode").notNull().default("locally-for-others"),
  hostname: text("hostname"),
  pid: integer("pid"),
  version: text("version"),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
  heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }).notNull(),
});
