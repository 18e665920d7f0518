import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import type { TlsFailureType } from "../tls-report/results.ts";
import type { ConnectionPermit } from "../shaping/shaper.ts";
import type { Logger } from "../util/logger.ts";
import { RelayConnection } from "./relay-connection.ts";
import type { RouteTls } from "./routes-store.ts";
import type { Target } from "./targets.ts";

export interface ConnectSpec {
  target: Target;
  /** Our name in EHLO. */
  ehloName: string;
  /** none: no STARTTLS; may: when offered; encrypt: required; verify: required with a certificate valid for target.name. */
  tls: RouteTls;
  /** Extra trusted CA certificates (PEM) for verify, besides the system store (tests). */
  ca?: string[];
  auth: { user: string; pass: string } | null;
  connectTimeoutMs: number;
  greetingTimeoutMs: number;
  /** Inactivity limit while waiting for any reply, the one after DATA included. */
  replyTimeoutMs: number;
  /**
   * Cluster traffic shaping: a new connection first takes a slot of its site (held until the
   * connection closes, idle time included); freeIdle closes one of our idle connections to the
   * site's other hosts when the site is full. Absent = no cluster limit.
   */
  shaping?: { site: string; permit(freeIdle: () => boolean): Promise<ConnectionPermit> };
}

/** A session that had to be verified (route "verify", MTA-STS enforce) and was not: 4.7.5, next host. */
export class TlsVerifyError extends Error {
  override name = "TlsVerifyError";
  readonly code = "ETLSVERIFY";
  constructor(
    readonly host: string,
    readonly failure: TlsFailureType,
    readonly detail: string,
  ) {
    super(`certificate of ${host} not verified (${failure}${detail ? `: ${detail}` : ""})`);
  }
}

export interface Lease {
  conn: RelayConnection;
  /** True when the connection already carried a message (a stale one may fail at once). */
  reused: boolean;
  /** The cluster slot the connection holds (shaping on), for its message tokens. */
  permit: ConnectionPermit | null;
  /** Give it back: kept for the next message to the same host when reusable, else closed. */
  release(reusable: boolean): void;
}

interface Idle {
  conn: RelayConnection;
  site: string | null;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Open SMTP connections, kept briefly after a message so consecutive messages to the same host
 * reuse them (Postfix's connection cache). Keyed by address, port and security, so a route with
 * credentials never shares a session with one without.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly busy = new Set<RelayConnection>();
  private readonly permits = new Map<RelayConnection, ConnectionPermit>();
  private closed = false;

  constructor(
    private readonly idleMs: () => number,
    private readonly logger: Logger,
  ) {}

  async acquire(spec: ConnectSpec): Promise<Lease> {
    const key = keyOf(spec);
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const entry = list.pop();
      if (!entry) break;
      clearTimeout(entry.timer);
      if (entry.conn.destroyed) continue;
      return this.lease(key, entry.conn, true, entry.site);
    }
    if (list && list.length === 0) this.idle.delete(key);
    const site = spec.shaping?.site ?? null;
    const permit = spec.shaping ? await spec.shaping.permit(() => this.closeIdleOfSite(site, key)) : null;
    let conn: RelayConnection;
    try {
      conn = await this.open(spec);
    } catch (err) {
      permit?.release();
      throw err;
    }
    if (permit) {
      this.permits.set(conn, permit);
      // The slot is the connection's until the socket is gone, however it ends.
      conn.once("end", () => {
        this.permits.delete(conn);
        permit.release();
      });
    }
    return this.lease(key, conn, false, site);
  }

  /** Idle connections right now (tests, metrics). */
  get idleCount(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  /** QUIT idle connections and drop busy ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.idle.values()) {
      for (const e of list) {
        clearTimeout(e.timer);
        quit(e.conn);
      }
    }
    this.idle.clear();
    for (const c of this.busy) c.close();
    this.busy.clear();
  }

  private lease(key: string, conn: RelayConnection, reused: boolean, site: string | null): Lease {
    this.busy.add(conn);
    let done = false;
    return {
      conn,
      reused,
      permit: this.permits.get(conn) ?? null,
      release: (reusable) => {
        if (done) return;
        done = true;
        this.busy.delete(conn);
        const ms = this.idleMs();
        if (!reusable || this.closed || conn.destroyed || ms <= 0) {
          quit(conn);
          return;
        }
        const timer = setTimeout(() => this.expire(key, conn), ms);
        timer.unref?.();
        const list = this.idle.get(key) ?? [];
        list.push({ conn, timer, site });
        this.idle.set(key, list);
      },
    };
  }

  /** Close one idle connection of `site` kept under another key; true when there was one. */
  private closeIdleOfSite(site: string | null, except: string): boolean {
    if (site === null) return false;
    for (const [key, list] of this.idle) {
      if (key === except) continue;
      const entry = list.find((e) => e.site === site);
      if (entry) {
        this.expire(key, entry.conn);
        return true;
      }
    }
    return false;
  }

  private expire(key: string, conn: RelayConnection): void {
    this.remove(key, conn);
    quit(conn);
  }

  private remove(key: string, conn: RelayConnection): void {
    const list = this.idle.get(key);
    if (!list) return;
    const i = list.findIndex((e) => e.conn === conn);
    if (i >= 0) {
      clearTimeout(list[i].timer);
      list.splice(i, 1);
    }
    if (list.length === 0) this.idle.delete(key);
  }

  private async open(spec: ConnectSpec): Promise<RelayConnection> {
    const { target } = spec;
    const conn = new RelayConnection({
      host: target.address,
      port: target.port,
      name: spec.ehloName,
      servername: isIP(target.name) ? undefined : target.name,
      requireTLS: spec.tls === "encrypt" || spec.tls === "verify",
      ignoreTLS: spec.tls === "none",
      // Opportunistic STARTTLS (RFC 3207): use it when offered, go on in clear if it fails.
      opportunisticTLS: spec.tls === "may",
      // The certificate is judged after the handshake (sessionTls), so "may" and "encrypt" go on
      // with any certificate, like Postfix's levels, and TLS-RPT still learns what was wrong.
      tls: { rejectUnauthorized: false, ca: spec.ca && spec.ca.length > 0 ? [...rootCertificates, ...spec.ca] : undefined },
      connectionTimeout: spec.connectTimeoutMs,
      greetingTimeout: spec.greetingTimeoutMs,
      socketTimeout: spec.replyTimeoutMs,
      socketCloseTimeout: 1000,
      logger: false,
    });
    const key = keyOf(spec);
    // An idle connection the server closes (or that errors) leaves the pool; the listener also
    // keeps an 'error' event from becoming an uncaught exception.
    conn.on("error", (err: Error) => {
      this.logger.debug({ err: err.message, host: target.address }, "relay connection error");
      this.remove(key, conn);
    });
    conn.on("end", () => this.remove(key, conn));
    try {
      await conn.connectAsync();
      // Before AUTH: credentials never go to a host that failed verification.
      if (spec.tls === "verify") {
        const t = conn.sessionTls;
        if (!t.verified) throw new TlsVerifyError(target.name, t.failure ?? "validation-failure", t.detail ?? "");
      }
      if (spec.auth) await conn.loginAsync(spec.auth.user, spec.auth.pass);
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }
}

function keyOf(spec: ConnectSpec): string {
  const t = spec.target;
  return `${t.address}|${t.port}|${t.name}|${spec.tls}|${spec.auth?.user ?? ""}`;
}

function quit(conn: RelayConnection): void {
  if (conn.destroyed) return;
  try {
    conn.quit();
  } catch {
    conn.close();
  }
}
