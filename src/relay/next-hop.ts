import type { Random } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { liveMembers } from "../cluster/members.ts";
import type { DnsResolver } from "./dns.ts";
import { findRoute, parseHostPort, RouteError, type HostPort } from "./routes-store.ts";
import { resolveHostTargets, resolveMxTargets, type TargetResolution } from "./targets.ts";
import { localReply } from "./smtp-reply.ts";

/** Where the recipients of one domain go next, and how to talk to it. */
export interface NextHop {
  /** Concurrency key and log label: "route:example.org", "forward:relay.lan:25", "forward:*", "mx:example.org". */
  destination: string;
  requireTls: boolean;
  auth: { user: string; pass: string } | null;
  resolve(): Promise<TargetResolution>;
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
  /** Port for MX hosts: 25, or per host name a test sink's. */
  mxPort: number | ((host: string) => number);
}

/**
 * In order: the route for the domain (or "*"), else the forwarding server (host[:port], or
 * "*" = any live frontend member, for backends without Internet access), else DNS MX.
 * Forwarding to a frontend needs no credentials: frontends let live cluster members relay by
 * their IP address (the members table is the list).
 */
export async function chooseNextHop(c: NextHopContext, domain: string): Promise<NextHop> {
  const route = await findRoute(c.db, domain);
  if (route) {
    return {
      destination: `route:${route.domain === "*" ? "*" : domain}`,
      requireTls: route.requireTls || c.requireTls,
      auth: route.authUser && route.authPass !== null ? { user: route.authUser, pass: route.authPass } : null,
      resolve: () => resolveHostTargets(c.resolver, route.hosts, `route ${route.domain}`),
    };
  }
  const fwd = c.forwardingServer.trim();
  if (fwd === "*" && !c.self.isFrontend) {
    return { destination: "forward:*", requireTls: c.requireTls, auth: null, resolve: () => liveFrontends(c) };
  }
  if (fwd !== "" && fwd !== "*") {
    let host: HostPort;
    try {
      host = parseHostPort(fwd);
    } catch (err) {
      const why = err instanceof RouteError ? err.message : String(err);
      return failedHop(`forward:${fwd}`, `forwarding_server setting is invalid: ${why}`);
    }
    return { destination: `forward:${host.host}:${host.port}`, requireTls: c.requireTls, auth: null, resolve: () => resolveHostTargets(c.resolver, [host], "forwarding server") };
  }
  return { destination: `mx:${domain}`, requireTls: c.requireTls, auth: null, resolve: () => resolveMxTargets(c.resolver, domain, c.mxPort, c.random) };
}

async function liveFrontends(c: NextHopContext): Promise<TargetResolution> {
  const members = await liveMembers(c.db, c.now, c.memberTimeoutSeconds);
  const hosts: HostPort[] = [];
  for (const m of members) {
    if (m.name === c.self.name || !m.roles.includes("frontend") || !m.smtpEndpoint) continue;
    try {
      hosts.push(parseHostPort(m.smtpEndpoint));
    } catch {
      // A member with an unusable endpoint is skipped; the others still serve.
    }
  }
  if (hosts.length === 0) return { ok: false, permanent: false, reply: localReply(451, "4.4.1", "forwarding server is * but no live frontend member is known") };
  // Spread the load: a random order each time.
  for (let i = hosts.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(c.random.next() * (i + 1)));
    [hosts[i], hosts[j]] = [hosts[j], hosts[i]];
  }
  return resolveHostTargets(c.resolver, hosts, "live frontend members");
}

function failedHop(destination: string, text: string): NextHop {
  return { destination, requireTls: false, auth: null, resolve: async () => ({ ok: false, permanent: false, reply: localReply(451, "4.3.5", text) }) };
}
