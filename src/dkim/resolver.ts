import { Resolver } from "node:dns/promises";
import type { DNSResolver } from "mailauth";

/** mailauth's resolver: (name, rrtype) → records, rejecting with node's error codes (ENOTFOUND, ENODATA, ...). */
export type AuthDnsResolver = DNSResolver;

/** The system's resolvers, or the dns_servers setting's, with a per-query timeout. */
export function systemAuthResolver(o: { servers: string[]; timeoutMs: number }): AuthDnsResolver {
  const resolver = new Resolver({ timeout: o.timeoutMs, tries: 1 });
  if (o.servers.length > 0) resolver.setServers(o.servers);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}

const NEGATIVE = new Set(["ENOTFOUND", "ENODATA"]);

/**
 * Answers (and "no such name/record") remembered for ttlMs, at most maxEntries: a sender's
 * SPF and DMARC records and its DKIM key are the same for every message of a burst, so DATA
 * waits for DNS once per sender domain rather than once per message. Temporary failures are
 * not kept. DNS TTLs are not visible through node's resolve(), so one short TTL serves all.
 */
export function cachingResolver(inner: AuthDnsResolver, o: { now: () => number; ttlMs?: number; maxEntries?: number }): AuthDnsResolver {
  const ttl = o.ttlMs ?? 60_000;
  const max = o.maxEntries ?? 10_000;
  const cache = new Map<string, { until: number; answer: Promise<string[][] | string[]> }>();
  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const now = o.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return hit.answer;
    const answer = inner(name, rrtype);
    if (cache.size >= max) cache.delete(cache.keys().next().value ?? key);
    cache.set(key, { until: now + ttl, answer });
    answer.catch((err: unknown) => {
      const code = err && typeof err === "object" && "code" in err ? String(err.code) : "";
      if (!NEGATIVE.has(code)) cache.delete(key);
    });
    return answer;
  };
}
