import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { date, num, queryRows, str, strOrNull } from "../../src/db/rows.ts";
import { registerMember } from "../../src/cluster/members.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import type { EnvelopeRecipient } from "../../src/domain/types.ts";
import { testContext } from "./context.ts";
import { fakeDns, type FakeZoneEntry } from "./fake-dns.ts";
import { queuePass } from "./queue-pass.ts";
import { sinkWorld } from "./sink-world.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
const body = (subject = "hello") => Buffer.from(`From: alice@origin.test\r\nTo: someone@dest.test\r\nSubject: ${subject}\r\nMessage-ID: <m1@origin.test>\r\n\r\nhello there\r\n`);

describe("relay to a scripted SMTP sink", () => {
  const world = sinkWorld(T0);
  const { clock } = world;
  const sink = world.sink;

  /** A context whose DNS sends each MX host name to the port of the sink named after it. */
  function setup(zone: Record<string, FakeZoneEntry>, ports: Record<string, number>, settings: NonNullable<Parameters<typeof testContext>[2]>["settings"] = {}) {
    const ctx = testContext(world.storage, clock, { settings: { relay_idle_ms: 2000, ...settings } });
    const relay = world.relay(ctx, { resolver: fakeDns(zone), mxPort: (host) => ports[host] ?? 1 });
    return { ctx, relay, transport: createRelayTransport(relay) };
  }

  const oneMx = (port: number) => ({ zone: { "dest.test": { mx: [{ exchange: "mx1.dest.test", priority: 10 }] }, "mx1.dest.test": { a: ["127.0.0.1"] } }, ports: { "mx1.dest.test": port } });

  async function submit(recipients: (string | EnvelopeRecipient)[], o: { sender?: string; content?: Buffer; envid?: string; ret?: "FULL" | "HDRS" } = {}) {
    return submitMessage(world.storage.db, {
      envelope: { sender: o.sender ?? "alice@origin.test", recipients: recipients.map((r) => (typeof r === "string" ? { address: r } : r)), envid: o.envid ?? null, ret: o.ret ?? null },
      content: o.content ?? body(),
      submittedBy: "relay-test",
      processor: "relay-test",
      now: clock.now(),
    });
  }

  async function states() {
    const rows = await queryRows(world.storage.db, sql`SELECT address, state, attempts, next_attempt_at, last_code, last_status, last_text FROM recipients ORDER BY id`);
    return rows.map((r) => ({ address: str(r.address), state: str(r.state), attempts: num(r.attempts), next: date(r.next_attempt_at).getTime(), code: r.last_code === null ? null : num(r.last_code), status: strOrNull(r.last_status), text: strOrNull(r.last_text) }));
  }

  async function attemptRows() {
    const rows = await queryRows(world.storage.db, sql`SELECT address, outcome, reply_code, enhanced_status, reply_text, remote_host FROM attempts ORDER BY id`);
    return rows.map((r) => ({ address: str(r.address), outcome: str(r.outcome), code: num(r.reply_code), status: strOrNull(r.enhanced_status), text: str(r.reply_text), host: strOrNull(r.remote_host) }));
  }

  it("sends all recipients of a message in one transaction and records every attempt", async () => {
    const s = await sink({ size: 1_000_000 });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit(["a@dest.test", "b@dest.test", "c@dest.test"]);
    const pass = await queuePass(ctx, transport);
    expect(pass.doneMessageIds).toHaveLength(1);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0].to.map((t) => t.address)).toEqual(["a@dest.test", "b@dest.test", "c@dest.test"]);
    expect(s.messages[0].from).toBe("alice@origin.test");
    expect(s.messages[0].mailArgs.SIZE).toBe(String(body().byteLength));
    expect(s.messages[0].content.toString()).toContain("Subject: hello");
    expect((await states()).map((r) => r.state)).toEqual(["delivered", "delivered", "delivered"]);
    const att = await attemptRows();
    expect(att).toHaveLength(3);
    for (const a of att) {
      expect(a.outcome).toBe("delivered");
      expect(a.code).toBe(250);
      expect(a.host).toBe(`mx1.dest.test[127.0.0.1]:${s.port}`);
    }
  });

  it("keeps the answer of each recipient: 250 delivered, 450 deferred on the retry schedule, 550 failed", async () => {
    const s = await sink({ rcpt: (a) => (a.startsWith("busy") ? "defer" : a.startsWith("gone") ? "reject" : "accept") });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit(["ok@dest.test", "busy@dest.test", "gone@dest.test"]);
    await queuePass(ctx, transport);
    const rows = await states();
    expect(rows.map((r) => [r.address, r.state])).toEqual([
      ["ok@dest.test", "delivered"],
      ["busy@dest.test", "queued"],
      ["gone@dest.test", "failed"],
    ]);
    // First retry after retry_initial_seconds (jitter 0 in the test context).
    expect(rows[1].next).toBe(T0 + 300_000);
    expect(rows[1]).toMatchObject({ code: 450, status: "4.2.0", text: "mailbox busy, try later (sink)" });
    expect(rows[2]).toMatchObject({ code: 550, status: "5.1.1", text: "no such user here (sink)" });
    expect(s.messages[0].to.map((t) => t.address)).toEqual(["ok@dest.test"]);

    // Not due before its time; on the second try it is accepted.
    expect((await queuePass(ctx, transport)).results).toHaveLength(0);
    clock.advance(300_000);
    const again = await sink();
    ports["mx1.dest.test"] = again.port;
    const second = await queuePass(ctx, transport);
    expect(second.results.map((r) => r.outcome.kind)).toEqual(["delivered"]);
    expect(second.doneMessageIds).toHaveLength(1);
    const att = await attemptRows();
    expect(att.map((a) => [a.address, a.outcome, a.code])).toEqual([
      ["ok@dest.test", "delivered", 250],
      ["busy@dest.test", "deferred", 450],
      ["gone@dest.test", "failed", 550],
      ["busy@dest.test", "delivered", 250],
    ]);
  });

  it("a deferral backs off exponentially and fails with 4.4.7 once the queue lifetime is over", async () => {
    const s = await sink({ rcpt: () => "defer" });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports, { queue_lifetime_seconds: 1500 });
    await submit(["busy@dest.test"]);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = await queuePass(ctx, transport);
      if (p.doneMessageIds.length > 0) break;
      const [row] = await states();
      seen.push(row.next - clock.now().getTime());
      clock.set(row.next);
    }
    // 300 s, 600 s, then capped by the lifetime (1500 s after queueing).
    expect(seen).toEqual([300_000, 600_000, 600_000]);
    const [row] = await states();
    expect(row.state).toBe("failed");
    expect(row.status).toBe("4.4.7");
    expect(row.text).toMatch(/message expired/);
  });

  it("a 421 from the first MX sends the recipients to the next one (by preference)", async () => {
    const first = await sink({ connect: () => "close" });
    const second = await sink();
    const zone = {
      "dest.test": { mx: [{ exchange: "mx2.dest.test", priority: 20 }, { exchange: "mx1.dest.test", priority: 10 }] },
      "mx1.dest.test": { a: ["127.0.0.1"] },
      "mx2.dest.test": { a: ["127.0.0.1"] },
    };
    const { ctx, transport } = setup(zone, { "mx1.dest.test": first.port, "mx2.dest.test": second.port });
    await submit(["a@dest.test"]);
    await queuePass(ctx, transport);
    expect(first.sessions).toBe(1);
    expect(second.messages).toHaveLength(1);
    expect((await attemptRows())[0]).toMatchObject({ outcome: "delivered", host: `mx2.dest.test[127.0.0.1]:${second.port}` });
  });

  it("421 in the middle of the recipients: answered ones keep their answer, the rest go to the next MX", async () => {
    const first = await sink({ rcpt: (a) => (a.startsWith("b") ? "close" : a.startsWith("gone") ? "reject" : "accept") });
    const second = await sink();
    const zone = {
      "dest.test": { mx: [{ exchange: "mx1.dest.test", priority: 10 }, { exchange: "mx2.dest.test", priority: 20 }] },
      "mx1.dest.test": { a: ["127.0.0.1"] },
      "mx2.dest.test": { a: ["127.0.0.1"] },
    };
    const { ctx, transport } = setup(zone, { "mx1.dest.test": first.port, "mx2.dest.test": second.port });
    await submit(["gone@dest.test", "b@dest.test", "c@dest.test"]);
    await queuePass(ctx, transport);
    const rows = await states();
    expect(rows.map((r) => r.state)).toEqual(["failed", "delivered", "delivered"]);
    expect(first.messages).toHaveLength(0);
    expect(second.messages[0].to.map((t) => t.address).sort()).toEqual(["b@dest.test", "c@dest.test"]);
  });

  it("connection refused on every MX defers with the connection error", async () => {
    const s = await sink();
    const port = s.port;
    // Closed now, so the port refuses; the world closes it again after the test, which is harmless.
    await s.close();
    const { zone, ports } = oneMx(port);
    const { ctx, transport } = setup(zone, ports);
    await submit(["a@dest.test"]);
    await queuePass(ctx, transport);
    const [row] = await states();
    expect(row).toMatchObject({ state: "queued", code: 451, status: "4.4.1" });
    expect(row.text).toMatch(/ECONNREFUSED|connect/i);
  });

  it("a server that hangs after RCPT runs into the reply timeout and the recipient is deferred", async () => {
    const s = await sink({ rcpt: () => "hang" });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports, { relay_data_timeout_ms: 300 });
    await submit(["a@dest.test"]);
    const t0 = Date.now();
    await queuePass(ctx, transport);
    expect(Date.now() - t0).toBeLessThan(5000);
    const [row] = await states();
    expect(row).toMatchObject({ state: "queued", code: 451, status: "4.4.2" });
    expect(row.text).toMatch(/timeout/i);
  });

  it("a greeting that never comes runs into the greeting timeout", async () => {
    const s = await sink({ connect: () => "hang" });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports, { relay_greeting_timeout_ms: 300 });
    await submit(["a@dest.test"]);
    await queuePass(ctx, transport);
    const [row] = await states();
    expect(row).toMatchObject({ state: "queued", code: 451 });
    expect(row.text).toMatch(/greeting/i);
  });

  it("reuses the connection for consecutive messages to the same host", async () => {
    const s = await sink();
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport, relay } = setup(zone, ports);
    await submit(["a@dest.test"]);
    await queuePass(ctx, transport);
    expect(relay.pool.idleCount).toBe(1);
    await submit(["b@dest.test"]);
    await queuePass(ctx, transport);
    expect(s.messages.map((m) => m.session)).toEqual([1, 1]);
    expect(s.sessions).toBe(1);
  });

  it("passes DSN parameters on: RET and ENVID on MAIL, NOTIFY and ORCPT per recipient", async () => {
    const s = await sink();
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit(
      [
        { address: "a@dest.test", notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;A@dest.test" },
        { address: "b@dest.test", notify: ["NEVER"] },
      ],
      { envid: "env-42", ret: "HDRS" },
    );
    await queuePass(ctx, transport);
    const m = s.messages[0];
    expect(m.mailArgs).toMatchObject({ RET: "HDRS", ENVID: "env-42" });
    expect(m.to[0].args).toMatchObject({ NOTIFY: "SUCCESS,FAILURE", ORCPT: "rfc822;A@dest.test" });
    expect(m.to[1].args).toEqual({ NOTIFY: "NEVER" });
  });

  it("leaves DSN parameters out when the server does not offer DSN", async () => {
    const s = await sink({ dsn: false });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit([{ address: "a@dest.test", notify: ["SUCCESS"], orcpt: "rfc822;a@dest.test" }], { envid: "x", ret: "FULL" });
    await queuePass(ctx, transport);
    expect(s.messages[0].mailArgs.RET).toBeUndefined();
    expect(s.messages[0].to[0].args).toEqual({});
  });

  it("a non-ASCII address needs SMTPUTF8: 5.6.7 failure without it, SMTPUTF8 on MAIL with it", async () => {
    const without = await sink({ smtputf8: false });
    const { zone, ports } = oneMx(without.port);
    const a = setup(zone, ports);
    await submit(["jörg@dest.test"]);
    await a.ctx.db.execute(sql`SELECT 1`);
    await queuePass(a.ctx, a.transport);
    expect((await states())[0]).toMatchObject({ state: "failed", code: 553, status: "5.6.7" });
    expect(without.messages).toHaveLength(0);

    const withIt = await sink();
    ports["mx1.dest.test"] = withIt.port;
    await submit(["jörg@dest.test"]);
    await queuePass(a.ctx, a.transport);
    expect(withIt.messages).toHaveLength(1);
    expect(withIt.messages[0].mailArgs.SMTPUTF8).toBeDefined();
  });

  it("marks 8-bit content BODY=8BITMIME and refuses a message over the server's SIZE", async () => {
    const s = await sink({ size: 4096 });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit(["a@dest.test"], { content: Buffer.from("Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n", "utf8") });
    await submit(["b@dest.test"], { content: Buffer.alloc(8000, 0x61) });
    await queuePass(ctx, transport);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0].mailArgs.BODY).toBe("8BITMIME");
    const rows = await states();
    expect(rows[1]).toMatchObject({ state: "failed", code: 552, status: "5.3.4" });
  });

  it("a 5xx to MAIL FROM fails every recipient, a 4xx after DATA defers every accepted one", async () => {
    const s = await sink({ mail: (from) => (from.startsWith("banned") ? { code: 553, text: "5.7.1 sender refused" } : "accept"), data: () => ({ code: 451, text: "4.3.0 try again" }) });
    const { zone, ports } = oneMx(s.port);
    const { ctx, transport } = setup(zone, ports);
    await submit(["a@dest.test", "b@dest.test"], { sender: "banned@origin.test" });
    await submit(["c@dest.test"]);
    await queuePass(ctx, transport);
    const rows = await states();
    expect(rows.map((r) => [r.state, r.code, r.status])).toEqual([
      ["failed", 553, "5.7.1"],
      ["failed", 553, "5.7.1"],
      ["queued", 451, "4.3.0"],
    ]);
  });

  it("a route (domain, then '*') with AUTH wins over DNS", async () => {
    const s = await sink({ auth: { user: "relayuser", pass: "s3cret" } });
    const { ctx, transport } = setup({}, {});
    await setRoute(ctx.db, { domain: "*", hosts: `127.0.0.1:${s.port}`, authUser: "relayuser", authPass: "s3cret" });
    await submit(["a@nowhere.test"]);
    await queuePass(ctx, transport);
    expect(s.logins).toBe(1);
    expect(s.messages).toHaveLength(1);
    expect((await states())[0].state).toBe("delivered");
  });

  it("a route with wrong credentials defers (the operator fixes it; the sender is not bounced)", async () => {
    const s = await sink({ auth: { user: "relayuser", pass: "s3cret" } });
    const { ctx, transport } = setup({}, {});
    await setRoute(ctx.db, { domain: "nowhere.test", hosts: `127.0.0.1:${s.port}`, authUser: "relayuser", authPass: "wrong" });
    await submit(["a@nowhere.test"]);
    await queuePass(ctx, transport);
    expect((await states())[0]).toMatchObject({ state: "queued", code: 451, status: "4.7.0" });
  });

  it("a route that requires TLS defers when the server offers no STARTTLS, and uses it when offered", async () => {
    const plain = await sink();
    const { ctx, transport } = setup({}, {});
    await setRoute(ctx.db, { domain: "nowhere.test", hosts: `127.0.0.1:${plain.port}`, requireTls: true });
    await submit(["a@nowhere.test"]);
    await queuePass(ctx, transport);
    expect((await states())[0]).toMatchObject({ state: "queued", code: 451 });
    expect(plain.messages).toHaveLength(0);

    const tls = await sink({ starttls: true });
    await setRoute(ctx.db, { domain: "nowhere.test", hosts: `127.0.0.1:${tls.port}`, requireTls: true });
    clock.advance(3600_000);
    await queuePass(ctx, transport);
    expect(tls.messages).toHaveLength(1);
    expect(tls.messages[0].tls).toBe(true);
  });

  it("forwarding server '*' hands remote recipients to a live frontend member, never to itself", async () => {
    const s = await sink();
    const { ctx, transport } = setup({}, {}, { forwarding_server: "*" });
    await registerMember(ctx.db, { name: "fe-1", roles: ["frontend"], smtpEndpoint: `127.0.0.1:${s.port}`, httpUrl: null, submitMode: "locally", hostname: null, pid: null, version: null }, clock.now());
    await registerMember(ctx.db, { name: "relay-test", roles: ["frontend", "backend"], smtpEndpoint: "127.0.0.1:1", httpUrl: null, submitMode: "locally", hostname: null, pid: null, version: null }, clock.now());
    await submit(["a@far.test"]);
    await queuePass(ctx, transport);
    expect(s.messages).toHaveLength(1);
    expect((await attemptRows())[0].host).toBe(`[127.0.0.1]:${s.port}`);

    // Nobody alive: deferred, not failed.
    clock.advance(3600_000);
    await submit(["b@far.test"]);
    await queuePass(ctx, transport);
    expect((await states())[1]).toMatchObject({ state: "queued", status: "4.4.1" });
  });

  it("forwarding server host:port is used when no route matches", async () => {
    const s = await sink();
    const { ctx, transport } = setup({}, {}, { forwarding_server: `127.0.0.1:${s.port}` });
    await submit(["a@far.test", "b@other.test"]);
    await queuePass(ctx, transport);
    // Different domains, one forwarder: one transaction.
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0].to).toHaveLength(2);
  });

  it("DNS answers become queue states: NXDOMAIN and null MX fail, SERVFAIL defers", async () => {
    const { ctx, transport } = setup({ "nomail.test": { mx: [{ exchange: "", priority: 0 }] }, "broken.test": { mx: "SERVFAIL" } }, {});
    await submit(["a@missing.test", "b@nomail.test", "c@broken.test"]);
    await queuePass(ctx, transport);
    expect((await states()).map((r) => [r.address, r.state, r.code, r.status])).toEqual([
      ["a@missing.test", "failed", 550, "5.1.2"],
      ["b@nomail.test", "failed", 556, "5.1.10"],
      ["c@broken.test", "queued", 451, "4.4.3"],
    ]);
  });

  it("limits connections per destination", async () => {
    const s = await sink({ rcpt: () => "accept" });
    const { zone, ports } = oneMx(s.port);
    const { relay } = setup(zone, ports, { relay_destination_concurrency: 2 });
    const release1 = await relay.limiter.acquire("mx:dest.test", 2);
    const release2 = await relay.limiter.acquire("mx:dest.test", 2);
    let third = false;
    const p = relay.limiter.acquire("mx:dest.test", 2).then((r) => {
      third = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    release1();
    (await p)();
    expect(third).toBe(true);
    release2();
    expect(relay.limiter.count("mx:dest.test")).toBe(0);
  });
});
