import { bigint, boolean, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Local domains: mail for these is delivered to accounts here, never relayed. */
export const domains = pgTable("domains", {
  name: text("name").primaryKey(),
  /** Account that receives mail for unknown local parts, when set. */
  catchAll: text("catch_all"),
  rules: jsonb("rules"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const accounts = pgTable("accounts", {
  /** Full address, domain lower-cased. */
  address: text("address").primaryKey(),
  domain: text("domain")
    .notNull()
    .references(() => domains.name, { onDelete: "cascade" }),
  /** scrypt hash in PHC-like form; NULL = no login. */
  passwordHash: text("password_hash"),
  quotaBytes: bigint("quota_bytes", { mode: "number" }),
  /** Static cluster: the only backend that may open this account. NULL = dynamic (lease). */
  homeMember: text("home_member"),
  enabled: boolean("enabled").notNull().default(true),
  rules: jsonb("rules"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Dynamic account ownership: one backend at a time, by lease. The epoch grows on every takeover. */
export const accountLeases = pgTable("account_leases", {
  account: text("account")
    .primaryKey()
    .references(() => accounts.address, { onDelete: "cascade" }),
  member: text("member").notNull(),
  epoch: bigint("epoch", { mode: "number" }).notNull(),
  leaseUntil: timestamp("lease_until", { withTimezone: true }).notNull(),
  acquiredAt: timestamp("acquired_at", { withTimezone: true }).notNull(),
});
