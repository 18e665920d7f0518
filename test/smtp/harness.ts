import net from "node:net";
import tls from "node:tls";
import { sql } from "drizzle-orm";
import type { AppContext } from "../../src/app-context.ts";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import type { Storage } from "../../src/db/storage.ts";
import { queryRows, num, str } from "../../src/db/rows.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createLogger, silentLogger } from "../../src/util/logger.ts";
import { testAppContext } from "../helpers/app-context.ts";
import { generateSelfSigned } from "../../src/smtp/tls.ts";
import { startSmtpFrontend, type SmtpFrontend, type SmtpFrontendOptions } from "../../src/smtp/frontend.ts";

export interface Harness {
  ctx: AppContext;
  settings: Settings;
  clock: ManualClock;
  frontend: SmtpFrontend;
  port: number;
  close(): Promise<void>;
}

let tlsPair: Promise<{ key: string; cert: string }> | null = null;
export function testTls(): Promise<{ key: string; cert: string }> {
  tlsPair ??= generateSelfSigned("mx.test");
  return tlsPair;
}

/** A frontend on an ephemeral port with settings the test may change while it runs. */
export async function startHarness(storage: Storage, overrides: Partial<Settings> = {}, options: SmtpFrontendOptions = {}): Promise<Harness> {
  // inbound_auth_results off: no DNS from the system here; test/dkim turns it on with an injected resolver.
  const settings: Settings = { ...DEFAULT_SETTINGS, smtp_greeting_delay_ms: 0, smtp_auth_failure_delay_ms: 0, smtp_shutdown_grace_seconds: 1, inbound_auth_results: false, ...overrides };
  const clock = new ManualClock(new Date());
  const config = { ...loadConfig({ MEMBER_NAME: "fe-test", MAILCLUSTER_HOSTNAME: "mx.test", MAILCLUSTER_DATA: "/nonexistent" }), smtpPort: 0 };
  const ctx: AppContext = testAppContext(storage, {
    config,
    clock,
    settings,
    // SMTP_TEST_LOG=debug shows the frontend's log when a test needs explaining.
    logger: process.env.SMTP_TEST_LOG ? createLogger(process.env.SMTP_TEST_LOG) : silentLogger,
  });
  const frontend = await startSmtpFrontend(ctx, { tls: await testTls(), port: 0, submissionPort: null, smtpsPort: null, ...options });
  return { ctx, settings, clock, frontend, port: frontend.port, close: () => frontend.close() };
}

export interface Reply {
  code: number;
  lines: string[];
  /** Text of the last line after the code. */
  text: string;
}

/** A raw SMTP client over node:net, for malformed input. */
export class RawClient {
  private buffer = "";
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket | tls.TLSSocket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  /** Implicit TLS (465-style). */
  static connectTls(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  /** STARTTLS, then a client speaking over the TLS socket (this one must not be used any more). */
  async startTls(): Promise<RawClient> {
    const r = await this.cmd("STARTTLS");
    if (r.code !== 220) throw new Error(`STARTTLS: ${r.lines.join(" | ")}`);
    this.socket.removeAllListeners("data");
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: this.socket, rejectUnauthorized: false }, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete reply (multi-line aware). Rejects after timeoutMs or when the server closes without one. */
  async reply(timeoutMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.take();
      if (r) return r;
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; buffer: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private take(): Reply | null {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const nl = this.buffer.indexOf("\r\n", offset);
      if (nl < 0) return null;
      const line = this.buffer.slice(offset, nl);
      offset = nl + 2;
      lines.push(line);
      if (line.length < 4 || line[3] !== "-") {
        this.buffer = this.buffer.slice(offset);
        return { code: Number(line.slice(0, 3)), lines, text: line.slice(4) };
      }
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.write(line + "\r\n");
    return this.reply();
  }

  /** Waits until the server closes the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  end(): void {
    this.socket.destroy();
  }
}

/** Greeting + EHLO. */
export async function opened(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const greeting = await c.reply();
  if (greeting.code !== 220) throw new Error(`greeting ${greeting.lines.join(" | ")}`);
  const ehlo = await c.cmd("EHLO client.test");
  if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.lines.join(" | ")}`);
  return c;
}

export async function queueCounts(storage: Storage): Promise<{ messages: number; recipients: number; bodies: number }> {
  const [row] = await queryRows(
    storage.db,
    sql`SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM recipients) AS recipients, (SELECT count(*) FROM message_bodies) AS bodies`,
  );
  return { messages: num(row.messages), recipients: num(row.recipients), bodies: num(row.bodies) };
}

export async function queuedRecipients(storage: Storage, messageId: number): Promise<Array<{ address: string; orcpt: string | null; notify: string | null }>> {
  const rows = await queryRows(storage.db, sql`SELECT address, dsn_orcpt, dsn_notify FROM recipients WHERE message_id = ${messageId} ORDER BY id`);
  return rows.map((r) => ({ address: str(r.address), orcpt: r.dsn_orcpt === null ? null : str(r.dsn_orcpt), notify: r.dsn_notify === null ? null : str(r.dsn_notify) }));
}

export async function messageBody(storage: Storage, messageId: number): Promise<string> {
  const [row] = await queryRows(storage.db, sql`SELECT convert_from(content, 'UTF8') AS body FROM message_bodies WHERE message_id = ${messageId}`);
  return str(row.body);
}

export async function clearQueue(storage: Storage): Promise<void> {
  await storage.db.execute(sql`DELETE FROM messages`);
}

export function queueIdOf(reply: Reply): number {
  const m = /queued as (\d+)/.exec(reply.text);
  if (!m) throw new Error(`no queue id in "${reply.text}"`);
  return Number(m[1]);
}
