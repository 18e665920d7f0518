import type { AppContext } from "../app-context.ts";
import { clusterSecret } from "../cluster/cluster-secret.ts";
import { deferred } from "../domain/outcome.ts";
import { readMessageBody } from "../queue/body.ts";
import type { DnsResolver } from "../domain/dns.ts";
import { createSystemResolver, parseDnsServers } from "../relay/dns.ts";
import { Relay } from "../relay/relay.ts";
import { httpsPolicyFetcher } from "../mta-sts/fetch.ts";
import { MtaStsCache } from "../mta-sts/policy-cache.ts";
import { TlsReportRecorder } from "../tls-report/recorder.ts";
import { Shaper } from "../shaping/shaper.ts";
import { deliverUnlessSuppressed } from "../suppression/relay-gate.ts";
import type { Transport } from "./transport.ts";

const relays = new WeakMap<AppContext, Relay>();

/** DNS timeout per query; a slow resolver defers the recipients rather than holding the worker. */
const DNS_TIMEOUT_MS = 5000;

/** The system resolver, rebuilt when the dns_servers setting changes. */
export function settingsResolver(ctx: AppContext): DnsResolver {
  let current: { servers: string; resolver: DnsResolver } | null = null;
  const get = () => {
    const servers = ctx.settings().dns_servers;
    if (!current || current.servers !== servers) {
      current = { servers, resolver: createSystemResolver({ servers: parseDnsServers(servers), timeoutMs: DNS_TIMEOUT_MS }) };
    }
    return current.resolver;
  };
  return { resolveMx: (d) => get().resolveMx(d), resolve4: (h) => get().resolve4(h), resolve6: (h) => get().resolve6(h), resolveTxt: (n) => get().resolveTxt(n) };
}

/** The member's relay (one connection pool per member), made on first use. */
export function relayFor(ctx: AppContext, resolver: DnsResolver = settingsResolver(ctx)): Relay {
  let relay = relays.get(ctx);
  if (!relay) {
    relay = new Relay({
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
      clusterSecret: () => clusterSecret(ctx),
      // Policies shared through the database; the fetch resolves mta-sts.<domain> with the relay's DNS.
      mtaSts: new MtaStsCache({ db: ctx.db, resolver, fetcher: httpsPolicyFetcher({ resolver }), clock: ctx.clock, logger: ctx.logger }),
      tlsReports: new TlsReportRecorder(),
      // Cluster-wide limits and suspensions per destination site (relay_shaping setting).
      shaper: new Shaper({ db: ctx.db, clock: ctx.clock, member: ctx.config.memberName, settings: () => ctx.settings(), logger: ctx.logger }),
    });
    relays.set(ctx, relay);
  }
  return relay;
}

/** Close the member's relay connections (on stop), its TLS-RPT counts written first. */
export async function closeRelay(ctx: AppContext): Promise<void> {
  const relay = relays.get(ctx);
  relays.delete(ctx);
  await flushTlsReports(ctx, relay).catch(() => {});
  await relay?.close();
}

/** Add the member's TLS-RPT counts to the shared table (the member's minute timer); nothing before the relay's first use. */
export async function flushTlsReports(ctx: AppContext, relay: Relay | undefined = relays.get(ctx)): Promise<void> {
  await relay?.tlsReports?.flush(ctx.db);
}

/** A Transport over a given relay (tests and benchmarks build their own, with injected DNS). */
export function createRelayTransport(relay: Relay): Transport {
  // Suppressed recipients fail before the body is read or a connection is made.
  return (ctx, claimed) =>
    deliverUnlessSuppressed(ctx, claimed, async (recipients) => {
      const first = recipients[0];
      const body = await readMessageBody(ctx.db, first.messageId);
      if (!body) {
        return recipients.map((r) => ({ recipientId: r.id, outcome: deferred(451, "4.3.0", "message body not found") }));
      }
      const content = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      return relay.deliver({ sender: first.sender, content, ret: first.dsnRet, envid: first.dsnEnvid }, recipients);
    });
}

/** Remote recipients go out through the member's SMTP relay. */
export const relayRemote: Transport = (ctx, recipients) => createRelayTransport(relayFor(ctx))(ctx, recipients);
