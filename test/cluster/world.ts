import { sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import type { Db } from "../../src/db/db.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { setAccountRules } from "../../src/rules/store.ts";
import { type DnsServer, startDnsServer } from "../helpers/dns-server.ts";
import { type SinkAction, type SinkMessage, type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";

/** Local domain of the test cluster, and "the Internet" domains whose MX is the sink. */
export const LOCAL = "local.test";
export const EXTERNAL = "external.test";
export const SENDER_DOMAIN = "sender.test";
/** An account whose rule redirects everything to an external address: backend-generated mail. */
export const REDIRECTOR = `fwd@${LOCAL}`;
export const REDIRECT_TARGET = `target@${EXTERNAL}`;

/**
 * What a cluster test or benchmark needs around the members: the sink that plays the Internet,
 * a DNS server that points the external domains' MX at it, local accounts, and cluster settings
 * short enough that timeouts and retries happen in seconds.
 */
export interface World {
  sink: SmtpSink;
  dns: DnsServer;
  /** Sink behaviour per message; default accept. */
  onData: (m: SinkMessage) => SinkAction;
  /** Sink behaviour per recipient; default accept. */
  onRcpt: (address: string) => SinkAction;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const behaviour: Pick<World, "onData" | "onRcpt"> = { onData: () => "accept", onRcpt: () => "accept" };
  const sink = await startSmtpSink({ data: (m) => behaviour.onData(m), rcpt: (a) => behaviour.onRcpt(a) });
  const mx = "mx.internet.test";
  const dns = await startDnsServer({
    [EXTERNAL]: { mx: [{ exchange: mx, priority: 10 }] },
    [SENDER_DOMAIN]: { mx: [{ exchange: mx, priority: 10 }] },
    [mx]: { a: [sink.host] },
  });
  return Object.assign(behaviour, {
    sink,
    dns,
    async close() {
      await sink.close();
      await dns.close();
    },
  });
}

export interface ClusterTimings {
  memberTimeoutSeconds: number;
  heartbeatSeconds: number;
}

/** Settings for a cluster that notices death in seconds and retries in one. */
export async function configureCluster(db: Db, world: World, t: ClusterTimings): Promise<void> {
  const settings: Record<string, number | string> = {
    member_timeout_seconds: t.memberTimeoutSeconds,
    heartbeat_interval_seconds: t.heartbeatSeconds,
    queue_lease_seconds: 15,
    queue_poll_interval_ms: 200,
    retry_initial_seconds: 1,
    retry_max_seconds: 2,
    retry_jitter: 0,
    account_lease_seconds: 3,
    forwarding_server: "*",
    dns_servers: world.dns.address,
    relay_mx_port: world.sink.port,
    relay_idle_ms: 1000,
    smtp_greeting_delay_ms: 0,
    // The test's own SMTP client plays an application server on a trusted network that sends
    // external mail through the frontends. (It used to pass as a "member" because it shares
    // 127.0.0.1 with them; members are no longer trusted by address: they authenticate.)
    trusted_networks: "127.0.0.0/8",
  };
  for (const [key, value] of Object.entries(settings)) await setSetting(db, key, value);
}

export async function createAccounts(db: Db, n: number): Promise<string[]> {
  await addDomain(db, LOCAL);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await addAccount(db, { address: `user${i}@${LOCAL}` }));
  await addAccount(db, { address: REDIRECTOR });
  await setAccountRules(db, REDIRECTOR, { rules: [{ actions: [{ type: "redirect", to: [REDIRECT_TARGET] }] }] });
  return out;
}

/** A raw message with a Message-ID the test can find again in queue rows, mailboxes and the sink. */
export function rawMessage(id: string, from: string, to: string[]): string {
  return [
    `From: <${from}>`,
    `To: ${to.map((t) => `<${t}>`).join(", ")}`,
    `Subject: ${id}`,
    `Message-ID: <${id}@cluster.test>`,
    `Date: ${new Date().toUTCString()}`,
    "",
    `body of ${id}`,
    "",
  ].join("\r\n");
}

export function smtpClient(port: number, maxConnections = 4) {
  return nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, pool: true, maxConnections, maxMessages: Infinity });
}

export async function send(client: ReturnType<typeof smtpClient>, id: string, from: string, to: string[]): Promise<void> {
  await client.sendMail({ envelope: { from, to }, raw: rawMessage(id, from, to) });
}

/** Sink receipts of a message (by Message-ID). */
export function receipts(sink: SmtpSink, id: string): SinkMessage[] {
  const needle = `<${id}@cluster.test>`;
  return sink.messages.filter((m) => m.content.includes(needle));
}

/** Queue rows (message level) whose body carries the Message-ID: each pass through a queue. */
export async function queueRows(db: Db, id: string): Promise<Array<{ submittedBy: string; processor: string | null; ruleInvocations: number; kind: string; done: boolean }>> {
  const needle = `<${id}@cluster.test>`;
  const rows = await queryRows(
    db,
    sql`SELECT m.submitted_by, m.processor, m.rule_invocations, m.kind, m.done_at IS NOT NULL AS done
        FROM messages m JOIN message_bodies b ON b.message_id = m.id
        WHERE position(convert_to(${needle}, 'UTF8') in b.content) > 0 ORDER BY m.id`,
  );
  return rows.map((r) => ({
    submittedBy: str(r.submitted_by),
    processor: r.processor === null ? null : str(r.processor),
    ruleInvocations: num(r.rule_invocations),
    kind: str(r.kind),
    done: r.done === true,
  }));
}

export async function count(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows(db, query);
  return num(row.n);
}
