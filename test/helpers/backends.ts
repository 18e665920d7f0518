import { sql } from "drizzle-orm";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import type { AppContext } from "../../src/app-context.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import type { AccountRuleRunner } from "../../src/backend/account-rules.ts";
import type { ChannelEnvelope } from "../../src/backend/channel-protocol.ts";
import { BackendComponent } from "../../src/backend/component.ts";
import { deregisterMember, heartbeatMember, registerMember } from "../../src/cluster/members.ts";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import type { Clock } from "../../src/domain/types.ts";
import type { Storage } from "../../src/db/storage.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { BatchRecorder } from "../../src/queue/recorder.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { deliverLocal } from "../../src/delivery/local.ts";
import { createDeliveryHandler } from "../../src/delivery/handler.ts";
import type { HttpServerHandle } from "../../src/domain/runtime.ts";
import { testAppContext } from "./app-context.ts";

// Backend members in this process and a queue pass driven by hand, for the tests of local delivery
// (test/delivery), of the backend (test/backend) and of account leases (test/cluster).

export function testContext(storage: Storage, name: string, clock: Clock, overrides: Partial<Settings> = {}, clusterSecret: string | null = null): AppContext {
  const config = { ...loadConfig({}, { name, httpPort: 0, role: "backend" }), clusterSecret };
  const settings: Settings = { ...DEFAULT_SETTINGS, ...overrides };
  return testAppContext(storage, { config, clock, settings });
}

/** A backend member in this process: its component, its HTTP server on port 0, its members row. */
export interface TestBackend {
  name: string;
  ctx: AppContext;
  component: BackendComponent;
  url: string;
  heartbeat(): Promise<void>;
  /** Crash: no lease released, no deregistration; the server goes away. */
  kill(): Promise<void>;
  /** Graceful: leases released, member row removed. */
  stop(): Promise<void>;
}

export async function startBackend(
  storage: Storage,
  name: string,
  clock: Clock,
  o: { settings?: Partial<Settings>; rules?: AccountRuleRunner } = {},
): Promise<TestBackend> {
  const ctx = testContext(storage, name, clock, o.settings);
  const component = new BackendComponent({ rules: o.rules });
  component.prepare(ctx);
  const runtime = await detectRuntime();
  const app = createHttpApp(ctx);
  const server: HttpServerHandle = await runtime.serveHttp(app.fetch, { port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${server.port}`;
  await registerMember(
    storage.db,
    { name, roles: ["backend"], smtpEndpoint: null, httpUrl: url, submitMode: "locally-for-others", hostname: "test", pid: null, version: null },
    clock.now(),
  );
  await component.start(ctx);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  return {
    name,
    ctx,
    component,
    url,
    heartbeat: async () => {
      await heartbeatMember(storage.db, name, clock.now());
    },
    kill: async () => {
      component.crash();
      await close();
    },
    stop: async () => {
      await component.stop();
      await close();
      await deregisterMember(storage.db, name);
    },
  };
}

export const DOMAIN = "local.test";

export async function createAccounts(storage: Storage, n: number, home: string | null = null, prefix = "user"): Promise<string[]> {
  await addDomain(storage.db, DOMAIN).catch(() => {});
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await addAccount(storage.db, { address: `${prefix}${i}@${DOMAIN}`, homeMember: home }));
  return out;
}

export function rawMessage(subject: string, extra: string[] = [], body = "hello"): Uint8Array {
  return new TextEncoder().encode([`From: Alice <alice@remote.test>`, `To: someone@${DOMAIN}`, `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W/g, "")}@remote.test>`, ...extra, "", body, ""].join("\r\n"));
}

/** The delivery channel's envelope of `content` from alice@remote.test to `accounts`, recipient ids from `firstId` on. */
export function channelEnvelope(messageId: number, accounts: string[], content: Uint8Array, firstId = 1): ChannelEnvelope {
  const recipients = accounts.map((account, n) => ({ id: firstId + n, account, orcpt: null, notify: null }));
  return { messageId, sender: "alice@remote.test", envid: null, ret: null, authenticated: false, size: content.byteLength, recipients };
}

export async function submit(ctx: AppContext, recipients: string[], content: Uint8Array, sender = "alice@remote.test"): Promise<number> {
  const r = await submitMessage(ctx.db, {
    envelope: { sender, recipients: recipients.map((address) => ({ address })) },
    content,
    submittedBy: ctx.config.memberName,
    processor: null,
    now: ctx.clock.now(),
  });
  return r.messageId;
}

/** One queue pass by hand, as a worker on `ctx` would do it: claim, deliver the batch locally, record. */
export async function deliverOnce(ctx: AppContext, limit = 1000) {
  // Remote recipients (mail the rules generate) wait in the queue: no relay in these tests.
  const handler = createDeliveryHandler(ctx, {
    local: deliverLocal,
    remote: async (_, rs) => rs.map((r) => ({ recipientId: r.id, outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.4.0", text: "no relay in tests" } } })),
  });
  const claimed = await claimRecipients(ctx.db, { member: ctx.config.memberName, includePool: true, limit, leaseMs: 60_000, now: ctx.clock.now() });
  const recorder = new BatchRecorder(claimed, { member: ctx.config.memberName, now: () => ctx.clock.now(), policy: TEST_POLICY, random: ctx.random });
  const answers = await handler(claimed, recorder);
  const { results } = await recorder.finish(ctx.db, answers);
  const byId = new Map(results.map((r) => [r.recipient.id, r.outcome]));
  return claimed.map((r) => ({ address: r.address, messageId: r.messageId, ...byId.get(r.id)! }));
}

export const TEST_POLICY = { initialSeconds: 60, maxSeconds: 60, jitter: 0, lifetimeSeconds: 86400 };

export async function count(storage: Storage, query: ReturnType<typeof sql>): Promise<number> {
  const rows = await queryRows(storage.db, query);
  return num(rows[0].n);
}
