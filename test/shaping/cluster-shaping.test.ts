import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { date, queryRows } from "../../src/db/rows.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../../src/domain/delivery.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { Relay } from "../../src/relay/relay.ts";
import { setLimits } from "../../src/shaping/limits.ts";
import { Shaper } from "../../src/shaping/shaper.ts";
import { clearDestination, suspendDestination } from "../../src/shaping/admin.ts";
import { acquireSlot } from "../../src/shaping/store.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { type SinkAction, type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { fakeDns } from "../relay/fake-dns.ts";
import { sinkWorld } from "../relay/sink-world.ts";
import { type CountingProxy, startCountingProxy } from "./sink-proxy.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
const SITE = "mx:mx1.dest.test";
const content = Buffer.from("From: a@origin.test\r\nTo: b@dest.test\r\nSubject: shaping\r\n\r\nhi\r\n");

/** Two members' relays (A and B) on one database, both sending dest.test to one sink through a counting proxy. */
describe("cluster-wide traffic shaping", () => {
  const world = sinkWorld(T0, { truncate: ["shaping_slots", "shaping_buckets", "shaping_suspensions", "shaping_limits"] });
  const { clock } = world;
  let sink: SmtpSink;
  let proxy: CountingProxy;
  let rcptAction: SinkAction = "accept";
  let settings: Settings;
  let nextId = 1;

  beforeAll(async () => {
    sink = await startSmtpSink({ rcpt: () => rcptAction });
    proxy = await startCountingProxy(sink.port);
  });
  afterAll(async () => {
    await proxy.close();
    await sink.close();
  });
  beforeEach(() => {
    rcptAction = "accept";
    settings = { ...DEFAULT_SETTINGS, relay_idle_ms: 0, relay_shaping_wait_ms: 20_000 };
    proxy.reset();
  });

  function member(name: string): { relay: Relay; shaper: Shaper; metrics: Metrics } {
    const metrics = new Metrics();
    const shaper = new Shaper({ db: world.storage.db, clock, member: name, settings: () => settings, logger: silentLogger });
    const relay = new Relay({
      db: world.storage.db,
      resolver: fakeDns({ "dest.test": { mx: [{ exchange: "mx1.dest.test", priority: 10 }] }, "mx1.dest.test": { a: ["127.0.0.1"] } }),
      random: { next: () => 0 },
      clock,
      logger: silentLogger,
      settings: () => settings,
      ehloName: `${name}.test`,
      memberName: name,
      isFrontend: true,
      mxPort: () => proxy.port,
      shaper,
      metrics,
    });
    world.track(relay);
    return { relay, shaper, metrics };
  }

  function recipient(address: string): ClaimedRecipient {
    return {
      id: nextId++, messageId: 1, address, domain: address.split("@")[1], attempts: 0, queuedAt: clock.now(), lockedUntil: new Date(T0 + 60_000),
      dsnOrcpt: null, dsnNotify: null, sender: "a@origin.test", dsnEnvid: null, dsnRet: null, sizeBytes: content.length, kind: "normal",
      submittedBy: "t", processor: "t", ruleInvocations: 0, authenticated: false,
    };
  }

  const send = (relay: Relay, address: string): Promise<RecipientOutcome> =>
    relay.deliver({ sender: "a@origin.test", content, ret: null, envid: null }, [recipient(address)]).then((o) => o[0]);

  it("two members limited to 2 connections to a site never hold more than 2 sessions at the sink together", async () => {
    const a = member("member-a");
    const b = member("member-b");
    // Control: shaping off, each member limits itself only, and the burst opens many sessions at once.
    settings = { ...settings, relay_shaping: false, relay_destination_concurrency: 20 };
    let outcomes = await Promise.all(Array.from({ length: 24 }, (_, i) => send(i % 2 ? a.relay : b.relay, `c${i}@dest.test`)));
    expect(outcomes.every((o) => o.outcome.kind === "delivered")).toBe(true);
    expect(proxy.maxOpen).toBeGreaterThan(2);

    settings = { ...settings, relay_shaping: true };
    await setLimits(world.storage.db, { destination: "dest.test", maxConnections: 2, messagesPerMinute: null, connectionsPerMinute: null });
    a.shaper.invalidate();
    b.shaper.invalidate();
    await until(() => proxy.open === 0);
    proxy.reset();
    outcomes = await Promise.all(Array.from({ length: 24 }, (_, i) => send(i % 2 ? a.relay : b.relay, `s${i}@dest.test`)));
    expect(outcomes.map((o) => `${o.outcome.kind} ${o.outcome.reply.text}`).filter((k) => !k.startsWith("delivered"))).toEqual([]);
    expect(proxy.connections).toBe(24);
    expect(proxy.maxOpen).toBeLessThanOrEqual(2);
    expect(proxy.maxOpen).toBeGreaterThanOrEqual(1);
    await until(() => a.shaper.heldCount === 0 && b.shaper.heldCount === 0);
    await a.shaper.flush();
    await b.shaper.flush();
    const [held] = await queryRows(world.storage.db, sql`SELECT count(*)::int AS n FROM shaping_slots WHERE holder IS NOT NULL`);
    expect(Number(held.n)).toBe(0);
  }, 60_000);

  it("a 421 rate-limit reply suspends the site for every member; queued recipients move past it; mail flows after it", async () => {
    const a = member("member-a");
    const b = member("member-b");
    // B has read overrides, rules and suspensions before A is told off: B learns of the suspension from the acquisition statement.
    expect((await send(b.relay, "warm@dest.test")).outcome.kind).toBe("delivered");
    const queued = await submitMessage(world.storage.db, {
      envelope: { sender: "a@origin.test", recipients: [{ address: "waiting@dest.test" }, { address: "other@else.test" }] },
      content, submittedBy: "t", processor: "t", now: clock.now(),
    });
    expect(queued).toBeTruthy();

    rcptAction = { code: 421, text: "4.7.0 Try again later, closing connection (rate)" };
    const first = await send(a.relay, "x@dest.test");
    expect(first.outcome.kind).toBe("deferred");
    const until = T0 + 300_000;
    expect(first.outcome.kind === "deferred" && first.outcome.retryAt?.getTime()).toBe(until);
    const sessions = proxy.connections;

    rcptAction = "accept";
    const second = await send(b.relay, "y@dest.test");
    expect(second.outcome.kind).toBe("deferred");
    expect(second.outcome.reply.enhanced).toBe("4.7.0");
    expect(second.outcome.reply.text).toContain("suspended until");
    expect(second.outcome.kind === "deferred" && second.outcome.retryAt?.getTime()).toBe(until);
    expect(proxy.connections).toBe(sessions);
    expect(a.metrics.value("mailcluster_relay_shaping_suspensions_total")).toBe(1);
    expect(b.metrics.value("mailcluster_relay_shaping_deferred_total", { reason: "suspended" })).toBe(1);

    const rows = await queryRows(world.storage.db, sql`SELECT address, next_attempt_at FROM recipients ORDER BY address`);
    const next = new Map(rows.map((r) => [String(r.address), date(r.next_attempt_at).getTime()]));
    expect(next.get("waiting@dest.test")).toBe(until);
    expect(next.get("other@else.test")).toBe(T0);

    clock.set(until + 1000);
    const after = await send(b.relay, "z@dest.test");
    expect(after.outcome.kind).toBe("delivered");
    expect(proxy.connections).toBe(sessions + 1);
  }, 60_000);

  it("greylisting does not suspend; a reply the bounce classifier calls rate_limited (x.7.x) does", async () => {
    const a = member("member-a");
    rcptAction = { code: 450, text: "4.7.1 Greylisted, please try again later" };
    const grey = await send(a.relay, "g@dest.test");
    expect(grey.outcome.kind).toBe("deferred");
    expect(grey.outcome.kind === "deferred" && grey.outcome.retryAt).toBeUndefined();
    rcptAction = { code: 451, text: "4.7.500 Server busy. Please try again later" };
    const busy = await send(a.relay, "h@dest.test");
    expect(busy.outcome.kind === "deferred" && busy.outcome.retryAt?.getTime()).toBe(T0 + 300_000);
    const [row] = await queryRows(world.storage.db, sql`SELECT site, reason FROM shaping_suspensions`);
    expect([row.site, row.reason]).toEqual([SITE, "451 4.7.500 Server busy. Please try again later (bounce class rate_limited)"]);
  }, 60_000);

  it("an operator's suspension of a domain by name holds its deliveries (cache and statement) until lifted", async () => {
    const a = member("member-a");
    const b = member("member-b");
    expect((await send(b.relay, "warm@dest.test")).outcome.kind).toBe("delivered");
    const before = proxy.connections;
    await suspendDestination(world.storage.db, { destination: "dest.test", seconds: 60, reason: "ops", now: clock.now() });
    // A reads the suspension on its first refresh; B's cache predates it, so the slot statement refuses.
    for (const m of [a, b]) {
      const o = await send(m.relay, "held@dest.test");
      expect(o.outcome.kind === "deferred" && o.outcome.retryAt?.getTime()).toBe(T0 + 60_000);
    }
    expect(proxy.connections).toBe(before);
    expect((await clearDestination(world.storage.db, "dest.test", clock.now())).cleared).toEqual(["mx:dest.test"]);
    a.shaper.invalidate();
    expect((await send(a.relay, "free@dest.test")).outcome.kind).toBe("delivered");
  }, 60_000);

  it("honours a messages-per-minute limit across members (injected clock)", async () => {
    const a = member("member-a");
    const b = member("member-b");
    // 12 a minute: the bucket holds 2 (10 s worth) and gains one every 5 s.
    await setLimits(world.storage.db, { destination: SITE, maxConnections: null, messagesPerMinute: 12, connectionsPerMinute: null });
    const kinds: string[] = [];
    for (const [relay, shaper] of [[a.relay, a.shaper], [b.relay, b.shaper], [a.relay, a.shaper]] as const) {
      kinds.push((await send(relay, "m@dest.test")).outcome.kind);
      await until(() => shaper.heldCount === 0);
      await shaper.flush();
    }
    expect(kinds).toEqual(["delivered", "delivered", "deferred"]);
    const denied = await send(b.relay, "n@dest.test");
    expect(denied.outcome.reply.enhanced).toBe("4.4.5");
    expect(denied.outcome.kind === "deferred" && denied.outcome.retryAt?.getTime()).toBe(T0 + 5000);
    expect(proxy.connections).toBe(2);
    clock.advance(5000);
    expect((await send(b.relay, "o@dest.test")).outcome.kind).toBe("delivered");
  }, 60_000);

  it("slots of a member that died are free again once their lease expires", async () => {
    const a = member("member-a");
    settings = { ...settings, relay_destination_concurrency: 2, relay_shaping_wait_ms: 40, relay_shaping_lease_seconds: 60 };
    const limits = { maxConnections: 2, messagesPerMinute: null, connectionsPerMinute: null };
    for (let i = 0; i < 2; i++) {
      const r = await acquireSlot(world.storage.db, { site: SITE, member: "dead-member", now: clock.now(), leaseUntil: new Date(T0 + 60_000), limits, messageWant: 1 });
      expect(r.ok).toBe(true);
    }
    const busy = await send(a.relay, "p@dest.test");
    expect(busy.outcome.kind).toBe("deferred");
    expect(busy.outcome.reply.text).toContain("connection slots of the cluster are busy");
    expect(proxy.connections).toBe(0);
    clock.set(T0 + 61_000);
    expect((await send(a.relay, "q@dest.test")).outcome.kind).toBe("delivered");
  }, 60_000);
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
