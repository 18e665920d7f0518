import { isIP } from "node:net";
import type { Random, SmtpReply } from "../domain/types.ts";
import { classifyDnsError, type DnsResolver, type MxRecord } from "../domain/dns.ts";
import { localReply } from "../domain/smtp-reply.ts";

/** One address to try: the IP to connect to, and the name it goes by (TLS SNI, Remote-MTA). */
export interface Target {
  address: string;
  port: number;
  name: string;
  /** Credentials for this host alone (a frontend member on a hand-off); else the hop's. */
  auth?: { user: string; pass: string };
}

export type TargetResolution = { ok: true; targets: Target[] } | { ok: false; permanent: boolean; reply: SmtpReply };

/** Postfix tries at most 5 MX addresses per delivery (smtp_mx_address_limit); we allow a few more. */
export const MAX_TARGETS = 10;

/** "mx.example.org[192.0.2.1]:25", the form attempts.remote_host and logs show. */
export function targetLabel(t: Target): string {
  return t.name === t.address ? `[${t.address}]:${t.port}` : `${t.name}[${t.address}]:${t.port}`;
}

/** MX records by preference, equal preferences in random order (RFC 5321 §5.1), with the injected Random. */
export function orderMx(records: MxRecord[], random: { next(): number }): MxRecord[] {
  const byPriority = new Map<number, MxRecord[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group) group.push(r);
    else byPriority.set(r.priority, [r]);
  }
  const out: MxRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = [...(byPriority.get(priority) ?? [])];
    for (let i = group.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random.next() * (i + 1)));
      [group[i], group[j]] = [group[j], group[i]];
    }
    out.push(...group);
  }
  return out;
}

interface Addresses {
  addresses: string[];
  /** True when a lookup failed temporarily: "no address" is then not the final word. */
  temporary: boolean;
  /** True when the name does not exist at all. */
  nxdomain: boolean;
}

/** A and AAAA of one name; IPv4 first since it is what most test and LAN setups reach. */
async function addressesOf(resolver: DnsResolver, name: string): Promise<Addresses> {
  if (isIP(name)) return { addresses: [name], temporary: false, nxdomain: false };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses: string[] = [];
  let temporary = false;
  let nxdomain = false;
  for (const r of [v4, v6]) {
    if (r.status === "fulfilled") addresses.push(...r.value);
    else {
      const kind = classifyDnsError(r.reason);
      if (kind === "temporary") temporary = true;
      if (kind === "nxdomain") nxdomain = true;
    }
  }
  return { addresses, temporary, nxdomain };
}

/**
 * Where mail for `domain` goes by DNS: its MX hosts by preference, or the domain's own A/AAAA
 * when it has no MX (RFC 5321 §5.1). A null MX (RFC 7505) and a domain that does not exist are
 * permanent failures; SERVFAIL and timeouts are temporary.
 */
export async function resolveMxTargets(resolver: DnsResolver, domain: string, port: number | ((host: string) => number), random: Random): Promise<TargetResolution> {
  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const kind = classifyDnsError(err);
    if (kind === "nxdomain") return { ok: false, permanent: true, reply: localReply(550, "5.1.2", `Host or domain name not found: ${domain} (NXDOMAIN)`) };
    if (kind === "temporary") return { ok: false, permanent: false, reply: localReply(451, "4.4.3", `DNS lookup of MX for ${domain} failed temporarily: ${errCode(err)}`) };
    records = [];
  }
  const real = records.filter((r) => r.exchange !== "" && r.exchange !== ".");
  if (records.length > 0 && real.length === 0) {
    return { ok: false, permanent: true, reply: localReply(556, "5.1.10", `Domain ${domain} does not accept mail (null MX, RFC 7505)`) };
  }
  const names = real.length > 0 ? orderMx(real, random).map((r) => r.exchange.replace(/\.$/, "")) : [domain];
  return targetsOf(resolver, names, port, domain, real.length === 0);
}

/** Route or forwarding hosts, tried in the order given, each by its A/AAAA (an IP literal as is). */
export async function resolveHostTargets(resolver: DnsResolver, hosts: { host: string; port: number }[], what: string): Promise<TargetResolution> {
  const targets: Target[] = [];
  let temporary = false;
  for (const h of hosts) {
    const a = await addressesOf(resolver, h.host);
    temporary ||= a.temporary;
    for (const address of a.addresses) targets.push({ address, port: h.port, name: h.host });
  }
  if (targets.length > 0) return { ok: true, targets: targets.slice(0, MAX_TARGETS) };
  // A configured relay host that does not resolve is an operator's problem to fix, not the sender's: defer.
  return { ok: false, permanent: false, reply: localReply(451, "4.4.3", `no address for ${what} (${hosts.map((h) => h.host).join(", ")})${temporary ? ": DNS lookup failed temporarily" : ""}`) };
}

async function targetsOf(resolver: DnsResolver, names: string[], port: number | ((host: string) => number), domain: string, implicit: boolean): Promise<TargetResolution> {
  const targets: Target[] = [];
  let temporary = false;
  for (const name of names) {
    if (targets.length >= MAX_TARGETS) break;
    const a = await addressesOf(resolver, name);
    temporary ||= a.temporary;
    const p = typeof port === "number" ? port : port(name);
    for (const address of a.addresses) targets.push({ address, port: p, name });
  }
  if (targets.length > 0) return { ok: true, targets: targets.slice(0, MAX_TARGETS) };
  if (temporary) return { ok: false, permanent: false, reply: localReply(451, "4.4.3", `DNS lookup of the mail hosts of ${domain} failed temporarily`) };
  const why = implicit ? `${domain} has no MX and no address record` : `no mail host of ${domain} (${names.join(", ")}) has an address`;
  return { ok: false, permanent: true, reply: localReply(550, "5.4.4", `Host or domain name not found: ${why}`) };
}

function errCode(err: unknown): string {
  return err && typeof err === "object" && "code" in err ? String(err.code) : "error";
}
