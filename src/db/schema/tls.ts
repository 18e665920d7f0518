import { bigint, date, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * MTA-STS policies (RFC 8461) by recipient domain, shared by every member: one member fetches a
 * policy and the others read it here. A row with txt_id NULL caches "no policy" until checked_at
 * is old enough to ask DNS again (src/mta-sts/policy-cache.ts).
 */
export const mtaStsPolicies = pgTable("mta_sts_policies", {
  domain: text("domain").primaryKey(),
  /** The id= of the _mta-sts TXT record the policy was fetched for; NULL = no record. */
  txtId: text("txt_id"),
  /** none | testing | enforce */
  mode: text("mode").notNull(),
  mx: text("mx").array().notNull().default([]),
  maxAge: integer("max_age").notNull().default(0),
  /** The policy file as served, for TLS-RPT's policy-string. */
  policyText: text("policy_text"),
  fetchedAt: timestamp("fetched_at", { withTimezone: true }),
  /** A fetched policy applies until then (fetched_at + max_age), even if the TXT record goes away. */
  expiresAt: timestamp("expires_at", { withTimezone: true }),
  /** Last DNS check or fetch attempt by any member. */
  checkedAt: timestamp("checked_at", { withTimezone: true }).notNull(),
  /** RFC 8460 result type of the last failed fetch (sts-policy-fetch-error, sts-policy-invalid, sts-webpki-invalid). */
  errorType: text("error_type"),
  error: text("error"),
});

/**
 * TLS-RPT (RFC 8460) session counts per UTC day and policy domain: result_type "success" or a
 * failure type, with the MX host and IP for failures ('' for successes). Members add their
 * in-memory counts every minute (src/tls-report/recorder.ts).
 */
export const tlsRptResults = pgTable(
  "tls_rpt_results",
  {
    day: date("day").notNull(),
    policyDomain: text("policy_domain").notNull(),
    /** sts | no-policy-found */
    policyType: text("policy_type").notNull(),
    /** The policy file's lines joined by "\n"; '' without a policy. */
    policyString: text("policy_string").notNull().default(""),
    /** The policy's mx patterns joined by ","; '' without a policy. */
    mxHost: text("mx_host").notNull().default(""),
    resultType: text("result_type").notNull(),
    receivingMxHostname: text("receiving_mx_hostname").notNull().default(""),
    receivingIp: text("receiving_ip").notNull().default(""),
    additionalInfo: text("additional_info").notNull().default(""),
    sessions: bigint("sessions", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ name: "tls_rpt_results_pk", columns: [t.day, t.policyDomain, t.policyType, t.policyString, t.resultType, t.receivingMxHostname, t.receivingIp] })],
);

/** One row per day and policy domain once its report was made (or found to have nowhere to go): exactly once across members. */
export const tlsRptReports = pgTable(
  "tls_rpt_reports",
  {
    day: date("day").notNull(),
    policyDomain: text("policy_domain").notNull(),
    reportId: text("report_id").notNull(),
    /** sent | no-rua (no _smtp._tls record or no mailto: in it) */
    status: text("status").notNull(),
    rua: text("rua").notNull().default(""),
    messageId: bigint("message_id", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: "tls_rpt_reports_pk", columns: [t.day, t.policyDomain] })],
);
