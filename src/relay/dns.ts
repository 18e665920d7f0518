import { Resolver } from "node:dns/promises";

export interface MxRecord {
  exchange: string;
  priority: number;
}

/**
 * The DNS questions the relay asks, injectable so tests answer any record. Failures reject
 * with an Error whose `code` is node's (ENOTFOUND = NXDOMAIN, ENODATA = no such record,
 * ESERVFAIL, ETIMEOUT, ...): see classifyDnsError.
 */
export interface DnsResolver {
  resolveMx(domain: string): Promise<MxRecord[]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
  /** TXT records, each as its character strings (node's shape); MTA-STS and TLS-RPT discovery. */
  resolveTxt(name: string): Promise<string[][]>;
}

/** nxdomain: the name does not exist (permanent); nodata: it exists without that record; temporary: ask again later. */
export type DnsFailure = "nxdomain" | "nodata" | "temporary";

export function classifyDnsError(err: unknown): DnsFailure {
  const code = err && typeof err === "object" && "code" in err ? String(err.code) : "";
  if (code === "ENOTFOUND") return "nxdomain";
  if (code === "ENODATA") return "nodata";
  // SERVFAIL, timeouts, refused, connection trouble: nothing is known about the name yet.
  return "temporary";
}

/** An error shaped like node's, for injected resolvers (tests). */
export function dnsError(code: "ENOTFOUND" | "ENODATA" | "ESERVFAIL" | "ETIMEOUT", name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code, hostname: name });
}

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
