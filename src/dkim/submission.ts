import type { AppContext } from "../app-context.ts";
import { isMemberUser } from "../cluster/member-credentials.ts";
import { domainOf } from "../domain/address.ts";
import { parseDnsServers } from "../util/dns-servers.ts";
import type { RelayGrants } from "../domain/relay-grant.ts";
import type { HeaderField } from "../domain/submission-rules.ts";
import { coerceError } from "../util/errors.ts";
import { inboundAuthResults } from "./auth-results.ts";
import { type AuthResultsCache, createAuthResultsCache } from "./auth-results-cache.ts";
import { type AuthDnsResolver, cachingResolver, systemAuthResolver } from "./resolver.ts";
import { fromDomain, signParts } from "./sign.ts";
import { authservIdOf, stripAuthResults } from "./strip.ts";

export interface SubmittedMessage {
  session: string;
  clientAddress: string;
  helo: string | null;
  sender: string;
  /** The AUTH identity: an account address, `member:<name>`, or null. */
  user: string | null;
  headers: readonly HeaderField[];
  /** The message as it will be stored (trace fields first), not yet concatenated. */
  parts: Buffer[];
}

/** At DATA: returns the parts to store, with a DKIM-Signature or an Authentication-Results field on top when one applies. */
export type MessageAuth = (m: SubmittedMessage) => Promise<Buffer[]>;

export interface MessageAuthOptions {
  relay: RelayGrants;
  /** DNS for SPF, DKIM keys and DMARC (tests inject a table); by default the dns_servers setting's, cached briefly. */
  resolver?: AuthDnsResolver;
}

/**
 * Who gets what, decided by how the client relays (the same grant the RCPT check uses):
 * - an authenticated account, or a trusted network: outbound mail. Signed with the From
 *   domain's keys, an account only for its own domain (one tenant cannot sign as another).
 * - another member (hand-off, forwarding server "*"): already signed, or verified, where it
 *   was submitted; passed on as it is, so it carries one signature from us.
 * - anybody else: inbound. DKIM, SPF and DMARC verified into Authentication-Results.
 * No database query: the keys are in the keyring, the grant in memory.
 */
export function createMessageAuth(ctx: AppContext, o: MessageAuthOptions): MessageAuth {
  const resolver = o.resolver ? () => o.resolver as AuthDnsResolver : systemResolver(ctx);
  const results = createAuthResultsCache();
  return async (m) => {
    if (m.user && isMemberUser(m.user)) return m.parts;
    const grant = await o.relay.grant({ address: m.clientAddress, authenticatedUser: m.user });
    if (grant === "cluster-member") return m.parts;
    if (grant === "authenticated" || grant === "trusted-network") return sign(ctx, m, grant === "authenticated" ? domainOf(m.user ?? "") : null);
    const s = ctx.settings();
    if (!s.inbound_auth_results) return m.parts;
    return verify(ctx, m, resolver(), s.inbound_auth_timeout_ms, results);
  };
}

async function sign(ctx: AppContext, m: SubmittedMessage, accountDomain: string | null): Promise<Buffer[]> {
  const domain = fromDomain(m.headers);
  if (!domain || (accountDomain !== null && domain !== accountDomain)) return m.parts;
  const keys = await ctx.dkimKeys.keysFor(domain);
  if (keys.length === 0) return m.parts;
  try {
    const sig = await signParts(m.parts, keys, { now: ctx.clock.now(), headerFields: m.headers });
    if (!sig) return m.parts;
    ctx.metrics.inc("mailcluster_dkim_signed_total", "Messages DKIM-signed by where they came from", { source: "submission" });
    return [Buffer.from(sig.header, "utf8"), ...m.parts];
  } catch (err) {
    ctx.metrics.inc("mailcluster_dkim_sign_failures_total", "Messages left unsigned because signing failed");
    ctx.logger.warn({ session: m.session, domain, err: coerceError(err).message }, "DKIM signing failed; message accepted unsigned");
    return m.parts;
  }
}

/** The authserv-id: the cluster's primary domain when set (the same on every member), else this member's host name. */
export function authservId(ctx: AppContext): string {
  return (ctx.settings().primary_domain.trim() || ctx.config.hostname).toLowerCase();
}

/** Ids a forged field could claim: ours, this member's and every live member's host name. */
function ourIds(ctx: AppContext, own: string): Set<string> {
  const ids = new Set([own, ctx.config.hostname.toLowerCase()]);
  for (const r of ctx.cluster?.live() ?? []) if (r.hostname) ids.add(r.hostname.toLowerCase());
  return ids;
}

async function verify(ctx: AppContext, m: SubmittedMessage, resolver: AuthDnsResolver, timeoutMs: number, cache: AuthResultsCache): Promise<Buffer[]> {
  const id = authservId(ctx);
  let parts = m.parts;
  try {
    const key = cache.keyOf(m);
    const now = ctx.clock.now().getTime();
    let r = key === null ? null : cache.get(`${id}\0${key}`, now);
    if (!r) {
      r = await inboundAuthResults({ parts, ip: m.clientAddress, helo: m.helo, sender: m.sender, authservId: id, resolver, timeoutMs });
      if (key !== null) cache.set(`${id}\0${key}`, r, now);
    }
    for (const [method, result] of [["dkim", r.dkim], ["spf", r.spf], ["dmarc", r.dmarc]] as const) {
      ctx.metrics.inc("mailcluster_inbound_auth_total", "Inbound messages by authentication method and result", { method, result });
    }
    const ids = ourIds(ctx, id);
    const forged = m.headers.some((h) => h.name.toLowerCase() === "authentication-results" && ids.has(authservIdOf(h.value)));
    if (forged) parts = [stripAuthResults(Buffer.concat(parts), ids)];
    return [Buffer.from(r.header, "utf8"), ...parts];
  } catch (err) {
    // A verifier bug must not lose mail: accept without results, say so in the log.
    ctx.logger.warn({ session: m.session, err: coerceError(err).message }, "inbound authentication check failed; no Authentication-Results added");
    return m.parts;
  }
}

function systemResolver(ctx: AppContext): () => AuthDnsResolver {
  let current: { key: string; resolver: AuthDnsResolver } | null = null;
  return () => {
    const s = ctx.settings();
    const key = `${s.dns_servers}|${s.inbound_auth_timeout_ms}`;
    if (current?.key !== key) {
      const inner = systemAuthResolver({ servers: parseDnsServers(s.dns_servers), timeoutMs: Math.max(100, s.inbound_auth_timeout_ms) });
      current = { key, resolver: cachingResolver(inner, { now: () => ctx.clock.now().getTime() }) };
    }
    return current.resolver;
  };
}
