import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { num, queryRows, str, strOrNull } from "../../src/db/rows.ts";
import { httpsPolicyFetcher } from "../../src/mta-sts/fetch.ts";
import { MtaStsCache, purgeMtaStsPolicies } from "../../src/mta-sts/policy-cache.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import { TlsReportRecorder } from "../../src/tls-report/recorder.ts";
import type { SmtpSink } from "../helpers/smtp-sink.ts";
import { createTestCa, type PolicyServer, startPolicyServer, type TestCa } from "../helpers/test-ca.ts";
import { testContext } from "./context.ts";
import { fakeDns, type FakeZoneEntry } from "./fake-dns.ts";
import { queuePass } from "./queue-pass.ts";
import { sinkWorld } from "./sink-world.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
const body = Buffer.from("From: alice@origin.test\r\nTo: bob@dest.test\r\nSubject: sts\r\n\r\nhello\r\n");
const policy = (mode: string, mx: string[]) => `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join("")}max_age: 86400\r\n`;

describe("MTA-STS and route TLS policies against real sinks", () => {
  const world = sinkWorld(T0, { truncate: ["mta_sts_policies", "tls_rpt_results"] });
  const { clock } = world;
  let ca: TestCa;
  let rogue: TestCa;
  let mxCert: { key: string; cert: string };
  let rogueCert: { key: string; cert: string };
  let webServer: PolicyServer;

  beforeAll(async () => {
    ca = await createTestCa();
    rogue = await createTestCa("someone else's CA");
    mxCert = await ca.issue(["mx1.dest.test", "mx2.dest.test", "relay.partner.test"]);
    rogueCert = await rogue.issue(["mx1.dest.test", "relay.partner.test"]);
    webServer = await startPolicyServer(await ca.issue(["mta-sts.dest.test"]), policy("enforce", ["mx1.dest.test"]));
  });
  afterAll(async () => {
    await webServer.close();
  });
  beforeEach(() => {
    webServer.requests.length = 0;
    webServer.respond.status = 200;
  });

  function sink(certificate: { key: string; cert: string } | null): Promise<SmtpSink> {
    return world.sink(certificate ? { starttls: true, certificate } : {});
  }

  /** dest.test: MX mx1 (or `mx`), an _mta-sts TXT record (id `id`) unless `sts` is false. */
  function zone(o: { mx?: string; id?: string; sts?: boolean } = {}): Record<string, FakeZoneEntry> {
    const mx = o.mx ?? "mx1.dest.test";
    return {
      "dest.test": { mx: [{ exchange: mx, priority: 10 }] },
      [mx]: { a: ["127.0.0.1"] },
      "mta-sts.dest.test": { a: ["127.0.0.1"] },
      ...(o.sts === false ? {} : { "_mta-sts.dest.test": { txt: [`v=STSv1; id=${o.id ?? "20260601"}`] } }),
      "relay.partner.test": { a: ["127.0.0.1"] },
    };
  }

  /** A member: its own relay, MTA-STS memory cache and TLS-RPT recorder, on the shared database. */
  function member(name: string, dnsZone: Record<string, FakeZoneEntry>, port: number) {
    const ctx = testContext(world.storage, clock, { config: { memberName: name } });
    const dns = fakeDns(dnsZone);
    const tlsReports = new TlsReportRecorder();
    const mtaSts = new MtaStsCache({ db: ctx.db, resolver: dns, fetcher: httpsPolicyFetcher({ resolver: dns, ca: [ca.cert], port: webServer.port }), clock, logger: ctx.logger });
    const relay = world.relay(ctx, { resolver: dns, mxPort: () => port, metrics: ctx.metrics, mtaSts, tlsReports, tlsCa: [ca.cert] });
    return { ctx, dns, tlsReports, mtaSts, transport: createRelayTransport(relay) };
  }

  async function submit(to = "bob@dest.test", processor = "m1") {
    await submitMessage(world.storage.db, { envelope: { sender: "alice@origin.test", recipients: [{ address: to }] }, content: body, submittedBy: processor, processor, now: clock.now() });
  }

  async function states() {
    const rows = await queryRows(world.storage.db, sql`SELECT state, last_code, last_status, last_text FROM recipients ORDER BY id`);
    return rows.map((r) => ({ state: str(r.state), code: r.last_code === null ? null : num(r.last_code), status: strOrNull(r.last_status), text: strOrNull(r.last_text) ?? "" }));
  }

  async function tlsRows() {
    const rows = await queryRows(world.storage.db, sql`SELECT policy_domain, policy_type, result_type, receiving_mx_hostname, sessions FROM tls_rpt_results ORDER BY result_type, receiving_mx_hostname`);
    return rows.map((r) => ({ domain: str(r.policy_domain), type: str(r.policy_type), result: str(r.result_type), mx: str(r.receiving_mx_hostname), sessions: num(r.sessions) }));
  }

  it("enforce: an MX host the policy does not list is never contacted; the recipient is deferred with 4.7.5", async () => {
    const s = await sink(mxCert);
    const m = member("m1", zone({ mx: "mx2.dest.test" }), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    const [r] = await states();
    expect(r).toMatchObject({ state: "queued", code: 451, status: "4.7.5" });
    expect(r.text).toContain("MTA-STS policy of dest.test (enforce) does not list MX host mx2.dest.test");
    expect(s.sessions).toBe(0);
    expect(s.messages).toHaveLength(0);
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([{ domain: "dest.test", type: "sts", result: "validation-failure", mx: "mx2.dest.test", sessions: 1 }]);
  });

  it("enforce: a listed MX whose certificate comes from a CA we trust gets the message, over TLS", async () => {
    const s = await sink(mxCert);
    const m = member("m1", zone(), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    expect((await states())[0].state).toBe("delivered");
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0].tls).toBe(true);
    expect(webServer.requests).toEqual(["mta-sts.dest.test/.well-known/mta-sts.txt"]);
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([{ domain: "dest.test", type: "sts", result: "success", mx: "", sessions: 1 }]);
  });

  it("enforce: a certificate from an untrusted CA defers with 4.7.5 and nothing is sent", async () => {
    const s = await sink(rogueCert);
    const m = member("m1", zone(), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    const [r] = await states();
    expect(r).toMatchObject({ state: "queued", code: 451, status: "4.7.5" });
    expect(r.text).toContain("certificate of mx1.dest.test not verified (certificate-not-trusted");
    expect(s.messages).toHaveLength(0);
    expect(s.rcpts).toHaveLength(0);
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([{ domain: "dest.test", type: "sts", result: "certificate-not-trusted", mx: "mx1.dest.test", sessions: 1 }]);
    expect(m.ctx.metrics.value("mailcluster_relay_tls_sessions_total", { policy: "sts", result: "certificate-not-trusted" })).toBe(1);
  });

  it("enforce: a server without STARTTLS defers with 4.7.5", async () => {
    const s = await sink(null);
    const m = member("m1", zone(), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    expect((await states())[0]).toMatchObject({ state: "queued", status: "4.7.5" });
    expect(s.messages).toHaveLength(0);
  });

  it("the policy is fetched once and shared through the database: a second member does not fetch it", async () => {
    const s = await sink(mxCert);
    const m1 = member("m1", zone(), s.port);
    const m2 = member("m2", zone(), s.port);
    await submit("a@dest.test", "m1");
    await queuePass(m1.ctx, m1.transport);
    await submit("b@dest.test", "m2");
    await queuePass(m2.ctx, m2.transport);
    expect(s.messages.map((x) => x.to[0].address)).toEqual(["a@dest.test", "b@dest.test"]);
    expect(webServer.requests).toHaveLength(1);
    // m2 asked neither DNS for the TXT record nor the web server: the row was fresh.
    expect(m2.dns.questions.filter((q) => q.startsWith("txt"))).toEqual([]);
    const [row] = await queryRows(world.storage.db, sql`SELECT mode, mx, max_age, txt_id FROM mta_sts_policies WHERE domain = 'dest.test'`);
    expect({ mode: row.mode, maxAge: num(row.max_age), id: row.txt_id }).toEqual({ mode: "enforce", maxAge: 86400, id: "20260601" });
  });

  it("refetches when the TXT id changes, and after max_age; keeps the policy when the TXT record vanishes", async () => {
    const s = await sink(mxCert);
    let dnsZone = zone();
    const m = member("m1", new Proxy<Record<string, FakeZoneEntry>>({}, { get: (_t, k: string) => dnsZone[k] }), s.port);
    await m.mtaSts.lookup("dest.test");
    expect(webServer.requests).toHaveLength(1);
    // Same id, within the recheck interval: nothing asked.
    clock.advance(30 * 60_000);
    m.mtaSts.clearMemory();
    await m.mtaSts.lookup("dest.test");
    expect(webServer.requests).toHaveLength(1);
    // New id, after the recheck interval: fetched again.
    dnsZone = zone({ id: "20260602" });
    clock.advance(31 * 60_000);
    m.mtaSts.clearMemory();
    expect((await m.mtaSts.lookup("dest.test")).kind).toBe("policy");
    expect(webServer.requests).toHaveLength(2);
    // The TXT record goes away: the cached policy still applies until it expires (no downgrade).
    dnsZone = zone({ sts: false });
    clock.advance(2 * 3600_000);
    m.mtaSts.clearMemory();
    expect((await m.mtaSts.lookup("dest.test")).kind).toBe("policy");
    clock.advance(86400_000);
    m.mtaSts.clearMemory();
    expect((await m.mtaSts.lookup("dest.test")).kind).toBe("none");
    expect(webServer.requests).toHaveLength(2);
    // A row with no policy in force, untouched for a week, is purged.
    expect(await purgeMtaStsPolicies(m.ctx.db, clock.now())).toBe(0);
    clock.advance(8 * 86400_000);
    expect(await purgeMtaStsPolicies(m.ctx.db, clock.now())).toBe(1);
  });

  it("a policy server that fails leaves the domain without enforcement and reports sts-policy-fetch-error", async () => {
    webServer.respond.status = 404;
    const s = await sink(rogueCert);
    const m = member("m1", zone(), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    expect((await states())[0].state).toBe("delivered");
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([{ domain: "dest.test", type: "sts", result: "sts-policy-fetch-error", mx: "mx1.dest.test", sessions: 1 }]);
  });

  it("testing: delivers as usual (untrusted certificate, unlisted MX) and records the failures", async () => {
    webServer.respond.body = policy("testing", ["mx1.dest.test"]);
    try {
      const s1 = await sink(rogueCert);
      const m = member("m1", zone(), s1.port);
      await submit();
      await queuePass(m.ctx, m.transport);
      expect(s1.messages).toHaveLength(1);
      const s2 = await sink(mxCert);
      const other = member("m2", zone({ mx: "mx2.dest.test" }), s2.port);
      await submit("c@dest.test", "m2");
      await queuePass(other.ctx, other.transport);
      expect(s2.messages).toHaveLength(1);
      expect((await states()).map((r) => r.state)).toEqual(["delivered", "delivered"]);
      await m.tlsReports.flush(m.ctx.db);
      await other.tlsReports.flush(other.ctx.db);
      expect(await tlsRows()).toEqual([
        { domain: "dest.test", type: "sts", result: "certificate-not-trusted", mx: "mx1.dest.test", sessions: 1 },
        { domain: "dest.test", type: "sts", result: "validation-failure", mx: "mx2.dest.test", sessions: 1 },
      ]);
    } finally {
      webServer.respond.body = policy("enforce", ["mx1.dest.test"]);
    }
  });

  it("no policy: sessions count as no-policy-found, TLS or not", async () => {
    const s = await sink(rogueCert);
    const m = member("m1", zone({ sts: false }), s.port);
    await submit();
    await queuePass(m.ctx, m.transport);
    expect(s.messages).toHaveLength(1);
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([{ domain: "dest.test", type: "no-policy-found", result: "success", mx: "", sessions: 1 }]);
    expect(webServer.requests).toHaveLength(0);
  });

  it("route tls verify: delivered to a host with a trusted certificate, 4.7.5 with an untrusted one", async () => {
    const good = await sink(mxCert);
    const m = member("m1", zone({ sts: false }), good.port);
    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${good.port}`, tls: "verify" });
    await submit("x@partner.test");
    await queuePass(m.ctx, m.transport);
    expect(good.messages).toHaveLength(1);
    expect(good.messages[0].tls).toBe(true);

    const bad = await sink(rogueCert);
    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${bad.port}`, tls: "verify" });
    await submit("y@partner.test");
    await queuePass(m.ctx, m.transport);
    expect((await states())[1]).toMatchObject({ state: "queued", code: 451, status: "4.7.5" });
    expect(bad.messages).toHaveLength(0);

    const expired = await sink(await ca.issue(["relay.partner.test"], { expired: true }));
    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${expired.port}`, tls: "verify" });
    await submit("z@partner.test");
    await queuePass(m.ctx, m.transport);
    expect((await states())[2]).toMatchObject({ state: "queued", status: "4.7.5" });
    // Node and Bun name the expiry; Deno's TLS reports it as an unverifiable leaf (certificate-not-trusted).
    expect((await states())[2].text).toMatch(/not verified \(certificate-(expired|not-trusted)/);
    expect(expired.messages).toHaveLength(0);
    // Routes are not the domain's MX: no TLS-RPT counts.
    await m.tlsReports.flush(m.ctx.db);
    expect(await tlsRows()).toEqual([]);
  });

  it("route tls encrypt: any certificate, but STARTTLS required; none: never STARTTLS", async () => {
    const rogueTls = await sink(rogueCert);
    const m = member("m1", zone({ sts: false }), rogueTls.port);
    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${rogueTls.port}`, tls: "encrypt" });
    await submit("x@partner.test");
    await queuePass(m.ctx, m.transport);
    expect(rogueTls.messages.map((x) => x.tls)).toEqual([true]);

    const plain = await sink(null);
    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${plain.port}`, tls: "encrypt" });
    await submit("y@partner.test");
    await queuePass(m.ctx, m.transport);
    expect((await states())[1]).toMatchObject({ state: "queued", code: 451, status: "4.7.4" });
    expect(plain.messages).toHaveLength(0);

    await setRoute(m.ctx.db, { domain: "partner.test", hosts: `relay.partner.test:${rogueTls.port}`, tls: "none" });
    await submit("z@partner.test");
    await queuePass(m.ctx, m.transport);
    expect(rogueTls.messages.map((x) => x.tls)).toEqual([true, false]);
  });
});
