import { sql } from "drizzle-orm";
import { boolean, check, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { domains } from "./accounts.ts";

/**
 * DKIM signing keys, per local domain and selector (the DNS name is
 * `<selector>._domainkey.<domain>`). The private key is read only by the signing keyring;
 * the admin API, CLI and logs show the public half. Removing the domain removes its keys.
 */
export const dkimKeys = pgTable(
  "dkim_keys",
  {
    domain: text("domain")
      .notNull()
      .references(() => domains.name, { onDelete: "cascade" }),
    selector: text("selector").notNull(),
    /** RFC 6376 a= value: "rsa-sha256" (2048-bit) or "ed25519-sha256" (RFC 8463). */
    algorithm: text("algorithm").notNull(),
    /** PKCS#8 PEM. */
    privateKey: text("private_key").notNull(),
    /** The p= value of the DNS record: base64 SPKI (RSA) or the raw 32-byte key (Ed25519). */
    publicKey: text("public_key").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Inactive keys stay published (rotation) but sign nothing. */
    active: boolean("active").notNull().default(true),
  },
  (t) => [primaryKey({ columns: [t.domain, t.selector] }), check("dkim_keys_algorithm_check", sql`${t.algorithm} IN ('rsa-sha256', 'ed25519-sha256')`)],
);
