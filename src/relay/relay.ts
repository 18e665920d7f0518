import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import { outcomeOf } from "../domain/outcome.ts";
import type { Clock, Random, SmtpReply } from "../domain/types.ts";
import type { Db } from "../db/db.ts";
import type { Settings } from "../cluster/settings.ts";
import type { Metrics } from "../metrics/registry.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { type HopShaping, type Shaper, ShapingDenied } from "../shaping/shaper.ts";
import { memberCredentials, type MemberCredentials } from "../cluster/member-credentials.ts";
import { ConnectionPool, type Lease } from "./connection-pool.ts";
import type { DnsResolver } from "../domain/dns.ts";
import { KeyedLimiter } from "./limiter.ts";
import { chooseNextHop, type NextHop } from "./next-hop.ts";
import { localReply } from "../domain/smtp-reply.ts";
import { targetLabel, type Target } from "./targets.ts";
import { judgeSession, stsRefusesHost, verifyFailureReply } from "./tls-policy.ts";
import type { MtaStsCache } from "../mta-sts/policy-cache.ts";
import type { TlsReportRecorder } from "../tls-report/recorder.ts";
import type { SessionTls } from "../tls-report/results.ts";
import { runTransaction, type TransactionResult, troubleReply } from "./transaction.ts";

export interface RelayOptions {
  db: Db;
  resolver: DnsResolver;
  random: Random;
  clock: Clock;
  logger: Logger;
  settings: () => Settings;
  /** EHLO name: the member's host name. */
  ehloName: string;
  memberName: string;
  isFrontend: boolean;
  /** Connection and transaction counters (Prometheus), when given. */
  metrics?: Metrics;
  /** Port of MX hosts: 25; tests map each MX host name to a sink's port. */
  mxPort?: number | ((host: string) => number);
  /** The cluster secret, for member credentials on a forwarding "*" hand-off; absent = hand off without AUTH. */
  clusterSecret?: () => Promise<string>;
  /** MTA-STS policies for delivery by MX (applied while the mta_sts_enabled setting is on). */
  mtaSts?: MtaStsCache;
  /** TLS-RPT counts of MX sessions (kept while tls_rpt_enabled is on). */
  tlsReports?: TlsReportRecorder;
  /** Extra trusted CA certificates (PEM) for verified TLS, besides the system store (tests). */
  tlsCa?: string[];
  /** Cluster-wide traffic shaping (applies while the relay_shaping setting is on); absent = per-member limit only. */
  shaper?: Shaper;
}

/** The message a batch of recipients belongs to. */
export interface RelayMessage {
  sender: string;
  content: Buffer;
  ret: "FULL" | "HDRS" | null;
  envid: string | null;
}

/**
 * The SMTP relay: recipients of one message → next hop per domain → one transaction per
 * destination, next host on connection trouble or 421, a per-recipient outcome for each.
 */
export class Relay {
  readonly pool: ConnectionPool;
  readonly limiter = new KeyedLimiter();

  get tlsReports(): TlsReportRecorder | undefined {
    return this.o.tlsReports;
  }

  constructor(private readonly o: RelayOptions) {
    this.pool = new ConnectionPool(() => o.settings().relay_idle_ms, o.logger);
  }

  async deliver(message: RelayMessage, recipients: ClaimedRecipient[]): Promise<RecipientOutcome[]> {
    const s = this.o.settings();
    const hops = new Map<string, { hop: NextHop; recipients: ClaimedRecipient[] }>();
    const now = this.o.clock.now();
    const ctx = {
      db: this.o.db,
      resolver: this.o.resolver,
      random: this.o.random,
      now,
      self: { name: this.o.memberName, isFrontend: this.o.isFrontend },
      forwardingServer: s.forwarding_server,
      requireTls: s.relay_require_tls,
      memberTimeoutSeconds: s.member_timeout_seconds,
      mxPort: this.o.mxPort ?? 25,
      memberAuth: s.forwarding_server.trim() === "*" ? await this.memberAuth(now) : null,
      mtaSts: s.mta_sts_enabled ? this.o.mtaSts : null,
    };
    const byDomain = new Map<string, NextHop>();
    for (const r of recipients) {
      let hop = byDomain.get(r.domain);
      if (!hop) {
        hop = await chooseNextHop(ctx, r.domain);
        byDomain.set(r.domain, hop);
      }
      // Recipients of different domains behind the same route or forwarder share one transaction.
      const group = hops.get(hop.destination);
      if (group) group.recipients.push(r);
      else hops.set(hop.destination, { hop, recipients: [r] });
    }
    const parts = await Promise.all([...hops.values()].map((g) => this.deliverToHop(g.hop, message, g.recipients)));
    return parts.flat();
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.o.shaper?.close();
  }

  private async memberAuth(now: Date): Promise<((frontend: string) => MemberCredentials) | null> {
    if (!this.o.clusterSecret || this.o.isFrontend) return null;
    const secret = await this.o.clusterSecret();
    return (frontend) => memberCredentials(secret, this.o.memberName, frontend, now);
  }

  private async deliverToHop(hop: NextHop, message: RelayMessage, recipients: ClaimedRecipient[]): Promise<RecipientOutcome[]> {
    const release = await this.limiter.acquire(hop.destination, this.o.settings().relay_destination_concurrency);
    try {
      const resolution = await hop.resolve();
      if (!resolution.ok) {
        const kind = resolution.permanent ? "failed" : "deferred";
        return recipients.map((r) => ({ recipientId: r.id, outcome: { kind, reply: resolution.reply, remoteHost: null } }));
      }
      let shaping: HopShaping | null = null;
      if (this.o.shaper?.enabled) {
        try {
          shaping = await this.o.shaper.forHop(hop, resolution.targets, recipients.map((r) => r.domain));
        } catch (err) {
          if (err instanceof ShapingDenied) return this.shapingDeferred(recipients, err);
          throw err;
        }
      }
      const out: RecipientOutcome[] = [];
      let pending = recipients;
      let trouble: SmtpReply = localReply(451, "4.4.1", `no host of ${hop.destination} could be reached`);
      let troubleHost: string | null = null;
      for (const target of resolution.targets) {
        if (pending.length === 0) break;
        const label = targetLabel(target);
        const refused = stsRefusesHost(hop.sts, target);
        if (refused) {
          this.recordTls(hop, target, null, null, true);
          trouble = refused;
          troubleHost = label;
          continue;
        }
        let result: TransactionResult;
        try {
          result = await this.attempt(hop, target, message, pending, shaping);
        } catch (err) {
          if (!(err instanceof ShapingDenied)) throw err;
          out.push(...this.shapingDeferred(pending, err));
          pending = [];
          break;
        }
        const next: ClaimedRecipient[] = [];
        const answered: RecipientOutcome[] = [];
        for (const r of pending) {
          const reply = result.replies.get(r.address);
          if (reply) answered.push({ recipientId: r.id, outcome: outcomeOf(reply, label) });
          else next.push(r);
        }
        pending = next;
        if (shaping) {
          // A rate-limit reply (per rule) suspends the site for every member: no next host either.
          const until = await shaping.observe([...(result.trouble ? [result.trouble] : []), ...result.replies.values()]);
          if (until) {
            this.o.metrics?.inc("mailcluster_relay_shaping_suspensions_total", "Destination sites suspended by a reply rule (for every member)");
            for (const a of answered) if (a.outcome.kind === "deferred") a.outcome = { ...a.outcome, retryAt: until };
            const reply = result.trouble ?? localReply(451, "4.7.0", `destination ${shaping.site} suspended`);
            for (const r of pending) out.push({ recipientId: r.id, outcome: { kind: "deferred", reply, remoteHost: label, retryAt: until } });
            pending = [];
          }
        }
        out.push(...answered);
        if (result.trouble) {
          trouble = result.trouble;
          troubleHost = label;
          this.o.logger.info({ destination: hop.destination, host: label, code: trouble.code, status: trouble.enhanced, text: trouble.text }, "relay host trouble; trying the next");
        }
      }
      for (const r of pending) out.push({ recipientId: r.id, outcome: { kind: "deferred", reply: trouble, remoteHost: troubleHost } });
      return out;
    } finally {
      release();
    }
  }

  /** A TLS-RPT count for a session to an MX host (or one an enforced policy skipped). */
  private recordTls(hop: NextHop, target: Target, tls: SessionTls | null, err: unknown, skipped: boolean): void {
    if (!hop.sts || !this.o.tlsReports || !this.o.settings().tls_rpt_enabled) return;
    const result = skipped
      ? { policy: hop.sts.report, result: "validation-failure" as const, mxHost: target.name, ip: target.address, info: "MX host not listed in the enforced policy" }
      : judgeSession(hop.sts, target, tls, err);
    if (!result) return;
    this.o.tlsReports.record(result, this.o.clock.now());
    this.o.metrics?.inc("mailcluster_relay_tls_sessions_total", "MX sessions by TLS-RPT policy type and result (success or the RFC 8460 failure type)", { policy: result.policy.type, result: result.result });
  }

  private shapingDeferred(recipients: ClaimedRecipient[], d: ShapingDenied): RecipientOutcome[] {
    this.o.metrics?.inc("mailcluster_relay_shaping_deferred_total", "Recipients deferred by traffic shaping without an attempt, by reason", { reason: d.reason }, recipients.length);
    return recipients.map((r) => deferredBy(r, d));
  }

  /** One host: lease a connection (reused or new), run the transaction; a stale reused one is retried fresh once. */
  private async attempt(hop: NextHop, target: Target, message: RelayMessage, recipients: ClaimedRecipient[], shaping: HopShaping | null): Promise<TransactionResult> {
    const s = this.o.settings();
    const spec = {
      target,
      ehloName: this.o.ehloName,
      tls: hop.tls,
      ca: this.o.tlsCa,
      auth: target.auth ?? hop.auth,
      connectTimeoutMs: s.relay_connect_timeout_ms,
      greetingTimeoutMs: s.relay_greeting_timeout_ms,
      replyTimeoutMs: s.relay_data_timeout_ms,
      shaping: shaping ? { site: shaping.site, permit: (freeIdle: () => boolean) => shaping.permit(freeIdle) } : undefined,
    };
    for (let round = 0; round < 2; round++) {
      let lease: Lease;
      try {
        lease = await this.pool.acquire(spec);
      } catch (err) {
        if (err instanceof ShapingDenied) throw err;
        this.o.metrics?.inc("mailcluster_relay_connections_total", "Relay SMTP connections opened, by result", { result: "failed" });
        this.recordTls(hop, target, null, err, false);
        return { replies: new Map(), trouble: verifyFailureReply(err, hop.tls, hop.sts) ?? troubleReply(coerceError(err)), reusable: false, stale: false };
      }
      if (!lease.reused) this.recordTls(hop, target, lease.conn.sessionTls, null, false);
      this.o.metrics?.inc(
        lease.reused ? "mailcluster_relay_connection_reuses_total" : "mailcluster_relay_connections_total",
        lease.reused ? "Relay transactions on a kept connection" : "Relay SMTP connections opened, by result",
        lease.reused ? {} : { result: "opened" },
      );
      const denied = shaping ? await shaping.beforeMessage(lease.permit) : null;
      if (denied) {
        lease.release(true);
        throw denied;
      }
      const result = await runTransaction(lease.conn, {
        sender: message.sender,
        recipients: recipients.map((r) => ({ address: r.address, dsn: { notify: r.dsnNotify, orcpt: r.dsnOrcpt } })),
        content: message.content,
        ret: message.ret,
        envid: message.envid,
      });
      lease.release(result.reusable);
      this.o.metrics?.inc("mailcluster_relay_transactions_total", "Relay SMTP transactions, by how they ended", { result: result.trouble ? "trouble" : "answered" });
      if (!(result.stale && lease.reused)) return result;
    }
    return { replies: new Map(), trouble: localReply(451, "4.4.2", "connection lost"), reusable: false, stale: true };
  }
}

function deferredBy(r: ClaimedRecipient, d: ShapingDenied): RecipientOutcome {
  return { recipientId: r.id, outcome: { kind: "deferred", reply: d.reply, remoteHost: null, retryAt: d.retryAt } };
}
