import type { Random } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { liveMembers } from "../cluster/members.ts";
import type { MemberCredentials } from "../cluster/member-credentials.ts";
import type { DnsResolver } from "../domain/dns.ts";
import type { StsLookup } from "../mta-sts/policy-cache.ts";
import type { TlsFailureType, TlsReportPolicy } from "../tls-report/results.ts";
import { findRoute, parseHostPort, RouteError, type HostPort, type RouteTls } from "./routes-store.ts";
import { MAX_TARGETS, resolveHostTargets, resolveMxTargets, type Target, type TargetResolution } from "./targets.ts";
import { localReply } from "../domain/smtp-reply.ts";

/** Where the recipients of one domain go next, and how to talk to it. */
export interface NextHop {
  /** Concurrency key and log label: "route:example.org", "forward:relay.lan:25", "forward:*", "mx:example.org". */
  destination: string;
  /** How sessions use TLS (see RouteTls); an enforced MTA-STS policy makes it verify. */
  tls: RouteTls;
  /** MTA-STS and TLS-RPT, for delivery by MX only (a route or forwarder is not the domain's MX). */
  sts: HopSts | null;
  auth: { user: string; pass: string } | null;
  resolve(): Promise<TargetResolution>;
}

export interface HopSts {
  /** The policy TLS-RPT reports sessions under. */
  report: TlsReportPolicy;
  /** enforce: only MX hosts matching `mx`, with a verified certificate (tls is verify). */
  mode: "enforce" | "testing" | "none";
  mx: string[];
  /** The domain has an _mta-sts record but its policy could not be had: reported, not enforced. */
  fetchError: { type: TlsFailureType; error: string } | null;
}

export interface NextHopContext {
  db: Executor;
  resolver: DnsResolver;
  random: Random;
  now: Date;
  /** This member: excluded from "*" (a member never forwards to itself), and frontends relay directly. */
  self: { name: string; isFrontend: boolean };
  forwardingServer: string;
  requireTls: boolean;
  memberTimeoutSeconds: number;
  /** MTA-STS policies (absent or null = not applied). */
  mtaSts?: { lookup(domain: string): Promise<StsLookup> } | null;
  /** Port for MX hosts: 25, or per host name a test sink's. */
  mxPort: number | ((host: string) => number);
  /**
   * Credentials for a hand-off to the named frontend member (derived from the cluster secret);
   * null = hand off without AUTH (then only a frontend that trusts member IPs relays it).
   */
  memberAuth?: ((frontend: string) => MemberCredentials) | null;
}

/**
 * Forwarding server "*" on a member without the frontend role comes first: such a member is
 * assumed to have no Internet access, so ALL its remote mail goes to a live frontend, which then
 * applies routes and MX itself (a route would otherwise send the backend to a host it cannot
 * reach). Everywhere else, in order: the route for the domain (or "*"), the forwarding server
 * host[:port], DNS MX. A frontend with "*" relays directly (route, then MX).
 *
 * The hand-off authenticates with member credentials (AUTH PLAIN inside STARTTLS, required),
 * not by the sender's IP address.
 */
export async function chooseNextHop(c: NextHopContext, domain: string): Promise<NextHop> {
  const fwd = c.forwardingServer.trim();
  if (fwd === "*" && !c.self.isFrontend) {
    // With credentials the session must be encrypted first; the frontend's certificate is
    // usually self-signed, so it is not verified (see member-credentials.ts for why that is enough).
    return { destination: "forward:*", tls: c.requireTls || c.memberAuth ? "encrypt" : "may", sts: null, auth: null, resolve: () => liveFrontends(c) };
  }
  const route = await findRoute(c.db, domain);
  if (route) {
    return {
      destination: `route:${route.domain === "*" ? "*" : domain}`,
      // relay_require_tls raises "may"; an explicit "none" is the operator's word for that host.
      tls: c.requireTls && route.tls === "may" ? "encrypt" : route.tls,
      sts: null,
      auth: route.authUser && route.authPass !== null ? { user: route.authUser, pass: route.authPass } : null,
      resolve: () => resolveHostTargets(c.resolver, route.hosts, `route ${route.domain}`),
    };
  }
  if (fwd !== "" && fwd !== "*") {
    let host: HostPort;
    try {
      host = parseHostPort(fwd);
    } catch (err) {
      const why = err instanceof RouteError ? err.message : String(err);
      return failedHop(`forward:${fwd}`, `forwarding_server setting is invalid: ${why}`);
    }
    return { destination: `forward:${host.host}:${host.port}`, tls: c.requireTls ? "encrypt" : "may", sts: null, auth: null, resolve: () => resolveHostTargets(c.resolver, [host], "forwarding server") };
  }
  const sts = c.mtaSts ? hopSts(domain, await c.mtaSts.lookup(domain)) : null;
  const tls: RouteTls = sts?.mode === "enforce" ? "verify" : c.requireTls ? "encrypt" : "may";
  return { destination: `mx:${domain}`, tls, sts, auth: null, resolve: () => resolveMxTargets(c.resolver, domain, c.mxPort, c.random) };
}

function hopSts(domain: string, lookup: StsLookup): HopSts {
  if (lookup.kind === "policy") {
    const p = lookup.policy;
    const lines = p.text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    return { report: { domain, type: "sts", policyString: lines.join("\n"), mxHost: p.mx.join(",") }, mode: p.mode, mx: p.mx, fetchError: null };
  }
  if (lookup.kind === "error") return { report: { domain, type: "sts", policyString: "", mxHost: "" }, mode: "none", mx: [], fetchError: { type: lookup.type, error: lookup.error } };
  return { report: { domain, type: "no-policy-found", policyString: "", mxHost: "" }, mode: "none", mx: [], fetchError: null };
}

async function liveFrontends(c: NextHopContext): Promise<TargetResolution> {
  const members = await liveMembers(c.db, c.now, c.memberTimeoutSeconds);
  const frontends: Array<{ name: string; host: HostPort }> = [];
  for (const m of members) {
    if (m.name === c.self.name || !m.roles.includes("frontend") || !m.smtpEndpoint) continue;
    try {
      frontends.push({ name: m.name, host: parseHostPort(m.smtpEndpoint) });
    } catch {
      // A member with an unusable endpoint is skipped; the others still serve.
    }
  }
  if (frontends.length === 0) return { ok: false, permanent: false, reply: localReply(451, "4.4.1", "forwarding server is * but no live frontend member is known") };
  // Spread the load: a random order each time.
  for (let i = frontends.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(c.random.next() * (i + 1)));
    [frontends[i], frontends[j]] = [frontends[j], frontends[i]];
  }
  const targets: Target[] = [];
  let failure: TargetResolution | null = null;
  for (const f of frontends) {
    const r = await resolveHostTargets(c.resolver, [f.host], `frontend member ${f.name}`);
    if (!r.ok) {
      failure ??= r;
      continue;
    }
    // Each frontend gets credentials bound to its own name.
    const auth = c.memberAuth ? c.memberAuth(f.name) : undefined;
    for (const t of r.targets) targets.push(auth ? { ...t, auth } : t);
  }
  if (targets.length > 0) return { ok: true, targets: targets.slice(0, MAX_TARGETS) };
  return failure ?? { ok: false, permanent: false, reply: localReply(451, "4.4.1", "no live frontend member could be resolved") };
}

function failedHop(destination: string, text: string): NextHop {
  return { destination, tls: "may", sts: null, auth: null, resolve: async () => ({ ok: false, permanent: false, reply: localReply(451, "4.3.5", text) }) };
}
