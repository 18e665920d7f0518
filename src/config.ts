import { hostname, networkInterfaces } from "node:os";
import type { EmbeddedKind } from "./db/storage.ts";
import type { Role, SubmitMode } from "./domain/types.ts";

/** Per-process configuration: environment variables, each overridable by a flag of `start`. */
export interface Config {
  databaseUrl: string | null;
  dataDir: string;
  /**
   * The database when DATABASE_URL is unset (MAILCLUSTER_EMBEDDED): a private PostgreSQL
   * server under the data dir, or PGlite in the process (one process only). null = PostgreSQL,
   * unless the data dir already holds a PGlite database and no PostgreSQL one.
   */
  embedded?: EmbeddedKind | null;
  memberName: string;
  roles: Role[];
  submitMode: SubmitMode;
  smtpPort: number;
  /** Submission port (587-style, AUTH required); null = not opened. */
  submissionPort?: number | null;
  /** Implicit-TLS port (465-style, AUTH required); null = not opened. */
  smtpsPort?: number | null;
  /** PEM certificate and key for STARTTLS/implicit TLS; null = self-signed one in dataDir. */
  tlsCertPath?: string | null;
  tlsKeyPath?: string | null;
  httpPort: number;
  /** Address the listeners bind to. */
  host: string;
  /**
   * Address other members use to reach this one (delivery channel, forwarding "*", relay trust
   * by IP). Defaults to `host`, or to this machine's first non-loopback IPv4 when bound to all.
   */
  advertiseHost: string;
  /** Host name this member uses in HELO/EHLO, Received: and DSNs. */
  hostname: string;
  clusterSecret: string | null;
  adminToken: string | null;
  logLevel: string;
}

export interface ConfigFlags {
  role?: string;
  name?: string;
  smtpPort?: string | number;
  httpPort?: string | number;
  submit?: string;
  host?: string;
  advertise?: string;
}

export function parseEmbedded(value: string | undefined): EmbeddedKind | null {
  if (value === undefined || value.trim() === "") return null;
  if (value === "postgres" || value === "pglite") return value;
  throw new ConfigError(`MAILCLUSTER_EMBEDDED must be postgres or pglite (got "${value}")`);
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function parseRole(value: string): Role[] {
  if (value === "all") return ["frontend", "backend"];
  if (value === "frontend" || value === "backend") return [value];
  throw new ConfigError(`--role must be all, frontend or backend (got "${value}")`);
}

export function parseSubmitMode(value: string): SubmitMode {
  if (value === "locally" || value === "locally-for-others" || value === "remotely") return value;
  throw new ConfigError(`--submit must be locally, locally-for-others or remotely (got "${value}")`);
}

function parsePort(value: string | number | undefined, fallback: number, what: string): number {
  if (value === undefined || value === "") return fallback;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${what} must be a port number 0-65535 (got "${value}")`);
  return n;
}

export function loadConfig(env: Record<string, string | undefined>, flags: ConfigFlags = {}): Config {
  const smtpPort = parsePort(flags.smtpPort ?? env.SMTP_PORT, 2525, "SMTP port");
  const httpPort = parsePort(flags.httpPort ?? env.HTTP_PORT, 8025, "HTTP port");
  const host = flags.host ?? env.MAILCLUSTER_HOST ?? "127.0.0.1";
  const machine = env.MAILCLUSTER_HOSTNAME ?? hostname();
  return {
    databaseUrl: env.DATABASE_URL && env.DATABASE_URL.trim() !== "" ? env.DATABASE_URL : null,
    dataDir: env.MAILCLUSTER_DATA ?? "./data",
    embedded: parseEmbedded(env.MAILCLUSTER_EMBEDDED),
    memberName: flags.name ?? env.MEMBER_NAME ?? `${machine}:${smtpPort}`,
    roles: parseRole(flags.role ?? env.MAILCLUSTER_ROLE ?? "all"),
    // The default: a member processes what it submits; serving others is opt-in.
    submitMode: parseSubmitMode(flags.submit ?? env.SUBMIT_MODE ?? "locally"),
    smtpPort,
    submissionPort: env.SUBMISSION_PORT ? parsePort(env.SUBMISSION_PORT, 0, "submission port") : null,
    smtpsPort: env.SMTPS_PORT ? parsePort(env.SMTPS_PORT, 0, "implicit-TLS port") : null,
    tlsCertPath: env.TLS_CERT_FILE || null,
    tlsKeyPath: env.TLS_KEY_FILE || null,
    httpPort,
    host,
    advertiseHost: flags.advertise ?? env.MAILCLUSTER_ADVERTISE ?? defaultAdvertiseHost(host),
    hostname: machine,
    clusterSecret: env.CLUSTER_SECRET ?? null,
    adminToken: env.ADMIN_TOKEN ?? null,
    logLevel: env.LOG_LEVEL ?? "info",
  };
}

/** Bound to every interface: advertise an address another host can actually connect to. */
export function defaultAdvertiseHost(host: string): string {
  if (host !== "0.0.0.0" && host !== "::" && host !== "") return host;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
