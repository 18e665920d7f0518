// The DNS contract: what every folder that asks DNS (relay, MTA-STS, TLS-RPT) expects of a resolver
// and how it reads a failure. A leaf like the rest of src/domain/: the system resolver that
// implements it lives with the relay (src/relay/dns.ts), tests inject their own.

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
