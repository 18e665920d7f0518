import { asc, eq, inArray } from "drizzle-orm";
import { isIP } from "node:net";
import type { Executor } from "../db/db.ts";
import { routes } from "../db/schema/index.ts";
import { UserError } from "../domain/user-error.ts";

/** host[:port] of a relay host. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * How a route's sessions use TLS, like Postfix's smtp_tls_security_level: none = never STARTTLS;
 * may = opportunistic, unverified (the default); encrypt = STARTTLS required, certificate not
 * checked; verify = STARTTLS required and the certificate verified for the host name.
 */
export const ROUTE_TLS = ["none", "may", "encrypt", "verify"] as const;
export type RouteTls = (typeof ROUTE_TLS)[number];

export function isRouteTls(value: unknown): value is RouteTls {
  return typeof value === "string" && (ROUTE_TLS as readonly string[]).includes(value);
}

export interface Route {
  /** A domain, or "*" for every domain without its own route. */
  domain: string;
  hosts: HostPort[];
  tls: RouteTls;
  /** tls is encrypt or verify (kept for the API's older field). */
  requireTls: boolean;
  authUser: string | null;
  authPass: string | null;
  createdAt: Date;
}

export interface RouteInput {
  domain: string;
  /** "host[:port][,host[:port]...]", tried in order. */
  hosts: string;
  /** Default "may"; checked here (a string from a form or the API). */
  tls?: string;
  /** The older switch: true = "encrypt" when tls is not given. */
  requireTls?: boolean;
  authUser?: string | null;
  authPass?: string | null;
}

/** Bad input (400) or no such route (404). */
export class RouteError extends UserError {
  override name = "RouteError";
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function normalizeRouteDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/\.$/, "");
  if (d === "*") return d;
  if (!HOSTNAME.test(d)) throw new RouteError(`bad route domain "${domain}": a domain name or "*"`, 400);
  return d;
}

/** One "host[:port]" ("[v6]:port" for IPv6 with a port); port 25 when none is given. */
export function parseHostPort(value: string, defaultPort = 25): HostPort {
  const v = value.trim();
  let host = v;
  let portText: string | null = null;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(v);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2] ?? null;
  } else if ((v.match(/:/g) ?? []).length === 1) {
    [host, portText] = v.split(":");
  }
  if (!(isIP(host) || HOSTNAME.test(host))) throw new RouteError(`bad relay host "${value}": a host name or IP address, optionally :port`, 400);
  let port = defaultPort;
  if (portText !== null) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new RouteError(`bad port in "${value}": 1-65535`, 400);
  }
  return { host: host.toLowerCase(), port };
}

export function parseHostList(value: string): HostPort[] {
  const parts = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new RouteError("a route needs at least one host[:port]", 400);
  return parts.map((p) => parseHostPort(p));
}

export function formatHostList(hosts: HostPort[]): string {
  return hosts.map((h) => `${isIP(h.host) === 6 ? `[${h.host}]` : h.host}:${h.port}`).join(",");
}

function toRoute(row: typeof routes.$inferSelect): Route {
  const tls = isRouteTls(row.tls) ? row.tls : "may";
  return {
    domain: row.domain,
    hosts: parseHostList(row.hosts),
    tls,
    requireTls: tls === "encrypt" || tls === "verify",
    authUser: row.authUser,
    authPass: row.authPass,
    createdAt: row.createdAt,
  };
}

/** Add or replace the route of a domain (validated first: nothing is written on bad input). */
export async function setRoute(db: Executor, input: RouteInput): Promise<Route> {
  const domain = normalizeRouteDomain(input.domain);
  const hosts = formatHostList(parseHostList(input.hosts));
  const authUser = input.authUser?.trim() || null;
  const authPass = input.authPass ?? null;
  if ((authUser === null) !== (authPass === null || authPass === "")) throw new RouteError("auth needs both a user and a password", 400);
  const tls = routeTls(input);
  const values = { domain, hosts, tls, authUser, authPass: authUser ? authPass : null };
  const [row] = await db
    .insert(routes)
    .values(values)
    .onConflictDoUpdate({ target: routes.domain, set: { hosts: values.hosts, tls: values.tls, authUser: values.authUser, authPass: values.authPass } })
    .returning();
  return toRoute(row);
}

function routeTls(input: RouteInput): RouteTls {
  if (input.tls === undefined || input.tls === "") return input.requireTls ? "encrypt" : "may";
  const tls = input.tls.trim().toLowerCase();
  if (!isRouteTls(tls)) throw new RouteError(`bad tls "${input.tls}": one of ${ROUTE_TLS.join(", ")}`, 400);
  if (input.requireTls === true && (tls === "none" || tls === "may")) throw new RouteError(`tls "${tls}" contradicts requireTls: true`, 400);
  return tls;
}

export async function listRoutes(db: Executor): Promise<Route[]> {
  const rows = await db.select().from(routes).orderBy(asc(routes.domain));
  return rows.map(toRoute);
}

export async function removeRoute(db: Executor, domain: string): Promise<void> {
  const d = normalizeRouteDomain(domain);
  const rows = await db.delete(routes).where(eq(routes.domain, d)).returning({ domain: routes.domain });
  if (rows.length === 0) throw new RouteError(`no route for "${d}"`, 404);
}

/** The route for a recipient domain: its own, else "*", else none (Postfix transport_maps order). */
export async function findRoute(db: Executor, domain: string): Promise<Route | null> {
  const d = domain.toLowerCase();
  const rows = await db.select().from(routes).where(inArray(routes.domain, [d, "*"]));
  const row = rows.find((r) => r.domain === d) ?? rows.find((r) => r.domain === "*");
  return row ? toRoute(row) : null;
}
