import { eq, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { settings } from "../db/schema/index.ts";
import { BOUNCE_CLASSES, isBounceClass } from "../domain/bounce-class.ts";
import { UserError } from "../domain/user-error.ts";

/**
 * Cluster-wide settings with their defaults. Stored in the settings table (JSON values) so
 * every member sees the same; a key not in the table has its default.
 */
export const DEFAULT_SETTINGS = {
  /** First retry after a temporary failure. */
  retry_initial_seconds: 300,
  /** Backoff doubles up to this. */
  retry_max_seconds: 4000,
  /** ± fraction of random spread on each delay, so retries of a burst do not stampede. */
  retry_jitter: 0.1,
  /** A recipient still undelivered after this long fails (4.4.7). */
  queue_lifetime_seconds: 5 * 24 * 3600,
  /** Done messages (and bodies) are purged after this; attempts rows are kept as long. */
  retention_seconds: 7 * 24 * 3600,
  /** A member whose heartbeat is older than this is dead. */
  member_timeout_seconds: 30,
  heartbeat_interval_seconds: 5,
  /** How long a claim holds a recipient before another member may take it. Renewed while in flight. */
  queue_lease_seconds: 60,
  /** Fallback polling when no NOTIFY arrives. */
  queue_poll_interval_ms: 1000,
  /**
   * Recipients taken per claim. A batch costs a handful of statements whatever its size, so
   * under load bigger is cheaper per message; a claim never waits to fill one.
   */
  queue_claim_batch: 200,
  /** Message bytes per claim (each recipient counts its message's size; at least one is taken): bounds the bodies a batch holds in memory. */
  queue_claim_max_bytes: 32 * 1024 * 1024,
  /**
   * A member with a frontend and a worker answers SMTP first: while its sessions queue up
   * behind each other, what they just handed over is delivered at most this much later, in
   * full batches (src/queue/ingest-first.ts); 0 = deliver at once.
   */
  queue_ingest_first_ms: 2000,
  /** Local delivery: how long a backend holds an account it opened (renewed while in use). */
  account_lease_seconds: 60,
  /** Local delivery: a backend releases an account it has not delivered to for this long. */
  account_idle_seconds: 30,
  /** Delivery channel: largest request body a backend accepts (413 beyond). */
  delivery_channel_max_bytes: 64 * 1024 * 1024,
  /** Delivery channel: signed requests older or newer than this are refused (replay protection). */
  delivery_channel_window_seconds: 60,
  /** Over quota answers 4.2.2 (retry later) when true, 5.2.2 (bounce) when false. */
  quota_temporary: true as boolean,
  /** Relay: "" = direct (routes, then DNS); host[:port]; or "*" = any live frontend member. */
  forwarding_server: "" as string,
  /** Relay: comma-separated DNS server IPs; "" = the system resolvers. */
  dns_servers: "" as string,
  relay_connect_timeout_ms: 30_000,
  relay_greeting_timeout_ms: 60_000,
  /** Relay: inactivity limit for any reply, DATA included. */
  relay_data_timeout_ms: 300_000,
  /** Relay: idle connections are kept this long for the next message to the same host. */
  relay_idle_ms: 5_000,
  /** Relay: TCP port of MX hosts (Postfix's smtp_tcp_port); 25 except in tests, where "the Internet" is a sink. */
  relay_mx_port: 25,
  /** Relay: connections at once per destination (route domain, forwarding server or recipient domain). */
  relay_destination_concurrency: 20,
  /** Relay: messages (transactions) per minute per destination site, cluster-wide; 0 = no limit. */
  relay_destination_messages_per_minute: 0,
  /** Relay: new connections per minute per destination site, cluster-wide; 0 = no limit. */
  relay_destination_connections_per_minute: 0,
  /**
   * Relay: cluster-wide traffic shaping in PostgreSQL (src/shaping/): the concurrency above and
   * the per-minute limits count every member's connections, and reply rules suspend
   * destinations for all. Off: the concurrency limit is per member and nothing is suspended.
   */
  relay_shaping: true as boolean,
  /** Relay shaping: lease of a connection slot; a member that dies frees its slots after this. Renewed while held. */
  relay_shaping_lease_seconds: 60,
  /** Relay shaping: how long a delivery waits for a busy destination's slot before it is deferred. */
  relay_shaping_wait_ms: 20_000,
  /**
   * Relay shaping: a temporary reply no reply rule matched, that the bounce classifier calls
   * rate_limited, suspends its site this long when it ends the session (421) or has a x.7.x
   * status; 0 = the rules alone decide.
   */
  relay_shaping_rate_limited_seconds: 300,
  /** Relay: refuse to send without STARTTLS to every destination (routes can require it alone). */
  relay_require_tls: false as boolean,
  /** Relay: apply MTA-STS policies (RFC 8461) of recipient domains delivered by MX (docs/tls.md). */
  mta_sts_enabled: true as boolean,
  /** Relay: count TLS results per recipient domain and send daily TLS-RPT reports (RFC 8460) to their rua. */
  tls_rpt_enabled: true as boolean,
  /** TLS-RPT: organization-name in reports; "" = the member's host name. */
  tls_rpt_organization: "" as string,
  /** Delay DSN after this long undelivered; 0 = off (like Postfix). 14400 = 4 h is the usual value. */
  delay_dsn_after_seconds: 0,
  /** Where an undeliverable DSN goes (once); "" = postmaster@<member hostname>. */
  dsn_postmaster: "" as string,
  /**
   * Suppression list: a permanent failure of one of these bounce classes (comma-separated,
   * see src/domain/bounce-class.ts; "" = never) adds the recipient to the list.
   */
  suppression_auto_classes: "bad_mailbox" as string,
  /** Suppression list: how long an automatic entry applies; 0 = until removed. */
  suppression_expiry_seconds: 365 * 24 * 3600,
  /**
   * The primary domain: `RCPT TO:<postmaster>` without a domain (RFC 5321 4.5.1) is delivered to
   * postmaster@ this domain. "" = the member's host name, or its parent domain, whichever is a
   * local domain.
   */
  primary_domain: "" as string,
  /** SMTP frontend: SIZE limit; larger → 552 5.3.4 at MAIL or after DATA. */
  max_message_bytes: 25 * 1024 * 1024,
  /** Recipients per message; more → 452 4.5.3. */
  max_recipients: 100,
  /** Concurrent SMTP sessions per frontend listener (421 beyond). */
  smtp_max_connections: 1000,
  /** Concurrent SMTP sessions from one client IP (421 4.7.0 beyond). */
  smtp_max_connections_per_ip: 50,
  /** Idle time allowed between client commands / data chunks before 421. */
  smtp_idle_timeout_seconds: 300,
  /** On shutdown, how long open sessions may finish before they get 421. */
  smtp_shutdown_grace_seconds: 10,
  /** Early-talker check: pause before the greeting (0 = greet at once). */
  smtp_greeting_delay_ms: 100,
  /** Comma-separated CIDRs allowed to relay without AUTH, e.g. "10.0.0.0/8,::1/128". */
  trusted_networks: "" as string,
  /**
   * Let any live member's IP address relay without AUTH (the old rule; weak on shared hosts or
   * reused container addresses). Off: members hand off with credentials from the cluster secret.
   */
  relay_trust_member_addresses: false as boolean,
  /** AUTH failures from one IP before further attempts are refused for smtp_auth_lockout_seconds. */
  smtp_auth_max_failures: 5,
  /** Each failed AUTH is answered after failures × this (slows down guessing). */
  smtp_auth_failure_delay_ms: 500,
  smtp_auth_lockout_seconds: 300,
  /** AUTH over cleartext (tests, dev only). */
  allow_insecure_auth: false as boolean,
  /** How long a frontend reuses an RCPT lookup (account/alias/unknown/remote); 0 = always ask the database. */
  smtp_recipient_cache_seconds: 5,
  /** Comma-separated load-balancer addresses whose connections start with a PROXY v1 header ("*" = all); "" = none. */
  smtp_proxy_protocol_from: "" as string,
  /** Inbound mail (unauthenticated, not a trusted network): verify DKIM, SPF and DMARC into Authentication-Results (never rejects). */
  inbound_auth_results: true as boolean,
  /** Inbound authentication: DATA waits at most this long for DNS, then records temperror. */
  inbound_auth_timeout_ms: 5_000,
} as const;

export type SettingKey = keyof typeof DEFAULT_SETTINGS;
export type Settings = { [K in SettingKey]: (typeof DEFAULT_SETTINGS)[K] extends number ? number : (typeof DEFAULT_SETTINGS)[K] };

export function isSettingKey(key: string): key is SettingKey {
  return Object.prototype.hasOwnProperty.call(DEFAULT_SETTINGS, key);
}

export async function loadSettings(db: Executor): Promise<Settings> {
  const rows = await db.select().from(settings);
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const row of rows) {
    if (isSettingKey(row.key) && typeof row.value === typeof DEFAULT_SETTINGS[row.key]) merged[row.key] = row.value;
  }
  return merged as Settings;
}

/** What is wrong with a value, said after `setting "<key>"`; null when it is acceptable. */
type Check = (value: unknown) => string | null;

/** A number that is finite and not negative: every numeric setting is a count, a duration or a fraction. */
const count: Check = (v) => (typeof v !== "number" || !Number.isFinite(v) ? "takes a number" : v < 0 ? "must not be negative" : null);
const flag: Check = (v) => (typeof v === "boolean" ? null : "takes a boolean");
const text: Check = (v) => (typeof v === "string" ? null : "takes a string");
/** Comma-separated bounce classes: a misspelt class would silently never match. */
const bounceClasses: Check = (v) => {
  if (typeof v !== "string") return "takes a string";
  const unknown = v.split(",").map((c) => c.trim()).filter((c) => c !== "" && !isBounceClass(c));
  return unknown.length > 0 ? `has an unknown bounce class ${unknown.join(", ")}; known: ${BOUNCE_CLASSES.join(", ")}` : null;
};

/**
 * How each setting is validated before it is stored. Typed over every key, so a new setting
 * does not compile without saying what it accepts.
 */
export const SETTING_CHECKS: { readonly [K in SettingKey]: Check } = {
  retry_initial_seconds: count,
  retry_max_seconds: count,
  retry_jitter: count,
  queue_lifetime_seconds: count,
  retention_seconds: count,
  member_timeout_seconds: count,
  heartbeat_interval_seconds: count,
  queue_lease_seconds: count,
  queue_poll_interval_ms: count,
  queue_claim_batch: count,
  queue_claim_max_bytes: count,
  queue_ingest_first_ms: count,
  account_lease_seconds: count,
  account_idle_seconds: count,
  delivery_channel_max_bytes: count,
  delivery_channel_window_seconds: count,
  quota_temporary: flag,
  forwarding_server: text,
  dns_servers: text,
  relay_connect_timeout_ms: count,
  relay_greeting_timeout_ms: count,
  relay_data_timeout_ms: count,
  relay_idle_ms: count,
  relay_mx_port: count,
  relay_destination_concurrency: count,
  relay_destination_messages_per_minute: count,
  relay_destination_connections_per_minute: count,
  relay_shaping: flag,
  relay_shaping_lease_seconds: count,
  relay_shaping_wait_ms: count,
  relay_shaping_rate_limited_seconds: count,
  relay_require_tls: flag,
  mta_sts_enabled: flag,
  tls_rpt_enabled: flag,
  tls_rpt_organization: text,
  delay_dsn_after_seconds: count,
  dsn_postmaster: text,
  suppression_auto_classes: bounceClasses,
  suppression_expiry_seconds: count,
  primary_domain: text,
  max_message_bytes: count,
  max_recipients: count,
  smtp_max_connections: count,
  smtp_max_connections_per_ip: count,
  smtp_idle_timeout_seconds: count,
  smtp_shutdown_grace_seconds: count,
  smtp_greeting_delay_ms: count,
  trusted_networks: text,
  relay_trust_member_addresses: flag,
  smtp_auth_max_failures: count,
  smtp_auth_failure_delay_ms: count,
  smtp_auth_lockout_seconds: count,
  allow_insecure_auth: flag,
  smtp_recipient_cache_seconds: count,
  smtp_proxy_protocol_from: text,
  inbound_auth_results: flag,
  inbound_auth_timeout_ms: count,
};

/** The value checked by its setting's rule; a SettingError (400) naming the problem otherwise. */
export function validateSetting(key: string, value: unknown): SettingKey {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}"`);
  const problem = SETTING_CHECKS[key](value);
  if (problem !== null) throw new SettingError(`setting "${key}" ${problem}`);
  return key;
}

/** Validated first (validateSetting), so a typo cannot silently break the cluster. */
export async function setSetting(db: Executor, key: string, value: unknown): Promise<void> {
  validateSetting(key, value);
  await db
    .insert(settings)
    .values({ key, value })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: sql`now()` } });
}

export async function resetSetting(db: Executor, key: string): Promise<void> {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}"`);
  await db.delete(settings).where(eq(settings.key, key));
}

/** A setting that does not exist or a value it does not take: the caller's mistake, 400. */
export class SettingError extends UserError {
  override name = "SettingError";
  constructor(message: string) {
    super(message, 400);
  }
}
