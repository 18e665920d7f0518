import { Resolver } from "node:dns/promises";
import type { DnsResolver } from "../domain/dns.ts";

// The resolver contract (DnsResolver, classifyDnsError) is src/domain/dns.ts; this is its system implementation.

export interface SystemResolverOptions {
  /** Server IPs ("1.1.1.1", "[2001:db8::1]:53"); empty = the system's. */
  servers: string[];
  timeoutMs: number;
  tries?: number;
}

/** The default resolver: node:dns/promises (Bun implements it too) with configurable servers. */
export function createSystemResolver(o: SystemResolverOptions): DnsResolver {
  const resolver = new Resolver({ timeout: o.timeoutMs, tries: o.tries ?? 2 });
  if (o.servers.length > 0) resolver.setServers(o.servers);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    resolve4: (host) => resolver.resolve4(host),
    resolve6: (host) => resolver.resolve6(host),
    resolveTxt: (name) => resolver.resolveTxt(name),
  };
}

// Shared with the inbound authentication resolver, which must not depend on the relay.
export { parseDnsServers } from "../util/dns-servers.ts";
