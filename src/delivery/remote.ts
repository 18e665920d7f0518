import type { AppContext } from "../app-context.ts";
import { deferred } from "../domain/outcome.ts";
import { groupByMessage } from "../queue/worker.ts";
import type { DnsResolver } from "../domain/dns.ts";
import { createSystemResolver, parseDnsServers } from "../relay/dns.ts";
import { cachingResolver } from "../relay/dns-cache.ts";
import { Relay } from "../relay/relay.ts";
import { httpsPolicyFetcher } from "../mta-sts/fetch.ts";
import { MtaStsCache } from "../mta-sts/policy-cache.ts";
import { TlsReportRecorder } from "../tls-report/recorder.ts";
import { Shaper } from "../shaping/shaper.ts";
import { deliverUnlessSuppressed } from "../suppression/relay-gate.ts";
import { loadBodies } from "./batch-bodies.ts";
import type { Transport } from "./transport.ts";

/** DNS timeout per query; a slow resolver defers the recipients rather than holding the worker. */
const DNS_TIMEOUT_MS = 5000;

/** The system resolver behind the relay's DNS cache, rebuilt when the dns_servers setting changes. */
export function settingsResolver(ctx: AppContext): DnsResolver {
  let current: { servers: string; resolver: DnsResolver } | null = null;
  const get = () => {
    const servers = ctx.settings().dns_servers;
    if (!current || current.servers !== servers) {
      current = { servers, resolver: cachingResolver(createSystemResolver({ servers: parseDnsServers(servers), timeoutMs: DNS_TIMEOUT_MS }), ctx.clock) };
    }
    return current.resolver;
  };
  return { resolveMx: (d) => get().resolveMx(d), resolve4: (h) => get().resolve4(h), resolve6: (h) => get().resolve6(h), resolveTxt: (n) => get().resolveTxt(n) };
}

/**
 * The member's relay: one SMTP connection pool with its MTA-STS cache, TLS-RPT counts and
 * shaper, made on first use (a member that never relays opens nothing). Member builds one,
 * hands its transport to the delivery handler, flushes its TLS-RPT counts and closes it on stop.
 */
export class MemberRelay {
  private relay: Relay | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly resolver: DnsResolver = settingsResolver(ctx),
  ) {}

  /** The relay, made on first use (again after close). */
  get(): Relay {
    this.relay ??= this.make();
    return this.relay;
  }

  /** Remote recipients go out through this relay (the delivery handler's remote transport). */
  readonly transport: Transport = (ctx, recipients) => createRelayTransport(this.get())(ctx, recipients);

  /** Add the TLS-RPT counts to the shared table (the member's minute timer); nothing before the relay's first use. */
  async flushTlsReports(): Promise<void> {
    await this.relay?.tlsReports?.flush(this.ctx.db);
  }

  /** Close the relay's connections (on stop), its TLS-RPT counts written first. */
  async close(): Promise<void> {
    await this.flushTlsReports().catch(() => {});
    const relay = this.relay;
    this.relay = null;
    await relay?.close();
  }

  private make(): Relay {
    const { ctx, resolver } = this;
    return new Relay({
      db: ctx.db,
      resolver,
      random: ctx.random,
      clock: ctx.clock,
      logger: ctx.logger,
      metrics: ctx.metrics,
      settings: () => ctx.settings(),
      ehloName: ctx.config.hostname,
      memberName: ctx.config.memberName,
      isFrontend: ctx.config.roles.includes("frontend"),
      // Port 25 in production; cluster tests make a local sink the Internet.
      mxPort: () => ctx.settings().relay_mx_port,
      clusterSecret: () => ctx.clusterSecret.get(),
      // Policies shared through the database; the fetch resolves mta-sts.<domain> with the relay's DNS.
      mtaSts: new MtaStsCache({ db: ctx.db, resolver, fetcher: httpsPolicyFetcher({ resolver }), clock: ctx.clock, logger: ctx.logger }),
      tlsReports: new TlsReportRecorder(),
      // Cluster-wide limits and suspensions per destination site (relay_shaping setting).
      shaper: new Shaper({ db: ctx.db, clock: ctx.clock, member: ctx.config.memberName, settings: () => ctx.settings(), logger: ctx.logger }),
    });
  }
}

/**
 * A Transport over a given relay (tests and benchmarks build their own, with injected DNS):
 * suppressed recipients fail before any body is read or connection made; the bodies of the
 * remaining messages come in one statement; then each message goes out on its own.
 */
export function createRelayTransport(relay: Relay): Transport {
  return (ctx, claimed) =>
    deliverUnlessSuppressed(ctx, claimed, async (recipients) => {
      const bodies = await loadBodies(ctx.db, recipients.map((r) => r.messageId));
      const sent = groupByMessage(recipients).map((group) => {
        const first = group[0];
        const body = bodies.get(first.messageId);
        if (!body) return Promise.resolve(group.map((r) => ({ recipientId: r.id, outcome: deferred(451, "4.3.0", "message body not found") })));
        const content = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        return relay.deliver({ sender: first.sender, content, ret: first.dsnRet, envid: first.dsnEnvid }, group);
      });
      return (await Promise.all(sent)).flat();
    });
}
