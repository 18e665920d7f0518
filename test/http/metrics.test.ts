import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { createBackendComponent } from "../../src/backend/component.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { queryRows } from "../../src/db/rows.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { Member } from "../../src/member.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { MAX_QUEUE_DOMAINS, OTHER_DOMAINS, setQueueGauges } from "../../src/metrics/queue-gauges.ts";
import { statusClass } from "../../src/metrics/delivery-metrics.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { smtpFrontendComponent } from "../../src/smtp/component.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

/** Prometheus text → sample lines keyed by `name{labels}` (label order as rendered). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const names = (s: Map<string, number>, prefix: string) => [...s.keys()].filter((k) => k === prefix || k.startsWith(`${prefix}{`));

describe("the registry", () => {
  it("renders histograms the Prometheus way: cumulative _bucket with +Inf, _sum, _count", () => {
    const m = new Metrics();
    for (const v of [0.05, 0.2, 0.2, 3]) m.observe("x_seconds", "help", { kind: "local" }, v, [0.1, 1]);
    const text = m.render();
    expect(text).toContain("# TYPE x_seconds histogram");
    const s = samples(text);
    expect(s.get('x_seconds_bucket{kind="local",le="0.1"}')).toBe(1);
    expect(s.get('x_seconds_bucket{kind="local",le="1"}')).toBe(3);
    expect(s.get('x_seconds_bucket{kind="local",le="+Inf"}')).toBe(4);
    expect(s.get('x_seconds_sum{kind="local"}')).toBeCloseTo(3.45);
    expect(s.get('x_seconds_count{kind="local"}')).toBe(4);
    expect(() => m.inc("x_seconds", "help")).toThrow(/histogram/);
  });

  it("replace() drops label sets that are gone; label values cannot collide", () => {
    const m = new Metrics();
    m.replace("g", "help", [{ labels: { d: "a" }, value: 1 }, { labels: { d: "b" }, value: 2 }]);
    m.replace("g", "help", [{ labels: { d: "b" }, value: 3 }]);
    expect(names(samples(m.render()), "g")).toEqual(['g{d="b"}']);
    m.inc("c", "help", { a: "x,b=y" });
    m.inc("c", "help", { a: "x", b: "y" });
    expect(m.value("c", { a: "x,b=y" })).toBe(1);
    m.inc("c", "help", { a: 'x",b="y' });
    expect(m.value("c", { a: "x", b: "y" })).toBe(1);
  });

  it("one series whatever the order the labels are given in; an observer adds to its series", () => {
    const m = new Metrics();
    m.inc("c", "help", { b: "2", a: "1" });
    m.inc("c", "help", { a: "1", b: "2" }, 2);
    expect(m.value("c", { b: "2", a: "1" })).toBe(3);
    expect(names(samples(m.render()), "c")).toHaveLength(1);
    const observe = m.observer("h", "help", { kind: "local" }, [1]);
    observe(0.5);
    observe(2);
    m.observe("h", "help", { kind: "local" }, 0.5, [1]);
    const s = samples(m.render());
    expect(s.get('h_bucket{kind="local",le="1"}')).toBe(2);
    expect(s.get('h_count{kind="local"}')).toBe(3);
  });

  it("queue gauges keep the label sets bounded: the smallest domains are summed as (other)", () => {
    const m = new Metrics();
    const depth = Array.from({ length: MAX_QUEUE_DOMAINS + 5 }, (_, i) => ({ state: "deferred" as const, domain: `d${i}.test`, recipients: 1000 - i, oldestAgeSeconds: i }));
    setQueueGauges(m, depth);
    const s = samples(m.render());
    expect(names(s, "mailcluster_queue_recipients")).toHaveLength(MAX_QUEUE_DOMAINS + 1);
    expect(s.get(`mailcluster_queue_recipients{state="deferred",domain="${OTHER_DOMAINS}"}`)).toBe([100, 101, 102, 103, 104].reduce((a, i) => a + 1000 - i, 0));
    expect(s.get('mailcluster_queue_oldest_age_seconds{state="deferred"}')).toBe(MAX_QUEUE_DOMAINS + 4);
    setQueueGauges(m, null);
    expect(names(samples(m.render()), "mailcluster_queue_recipients")).toEqual([]);
  });

  it("status class and subject come from the enhanced code, never from free text", () => {
    expect(statusClass("5.1.1")).toEqual({ status_class: "5", status_subject: "5.1" });
    expect(statusClass("4.4.7")).toEqual({ status_class: "4", status_subject: "4.4" });
    expect(statusClass(null)).toEqual({ status_class: "none", status_subject: "none" });
    expect(statusClass("9.9.9")).toEqual({ status_class: "none", status_subject: "none" });
  });
});

describe("/metrics of real members on real PostgreSQL", () => {
  let tdb: TestDatabase;
  let dataDir: string;
  let first: Member;
  let second: Member;
  let firstStopped = false;
  const frontend = smtpFrontendComponent();

  const scrape = async (m: Member) => {
    const res = await createHttpApp(m.ctx).request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return samples(await res.text());
  };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), "mc-metrics-"));
    await addDomain(tdb.storage.db, "local.test");
    await addAccount(tdb.storage.db, { address: "alice@local.test" });
    // The exporter hand-over is seen within one heartbeat.
    await setSetting(tdb.storage.db, "heartbeat_interval_seconds", 1);
    const runtime = await detectRuntime();
    const config = (name: string, role: string) => ({ ...loadConfig({ MAILCLUSTER_DATA: dataDir, MAILCLUSTER_HOSTNAME: "mx.test" }, { name, role }), smtpPort: 0, httpPort: 0 });
    first = await Member.start({ config: config("metrics-a", "all"), storage: tdb.open(4), runtime, logger: silentLogger, components: [frontend, createBackendComponent()] });
    // No worker: what it processes stays in the queue, so the gauges have something to count.
    second = await Member.start({ config: config("metrics-b", "backend"), storage: tdb.open(4), runtime, logger: silentLogger, components: [], runWorker: false });
    await until(() => first.ctx.cluster?.live().length === 2 && second.ctx.cluster?.live().length === 2, "both members see each other");
  }, 60_000);

  afterAll(async () => {
    if (!firstStopped) await first?.stop();
    await second?.stop();
    await tdb?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a delivery is observed by the time-in-queue and attempt histograms, and by the outcome counter", async () => {
    const t = nodemailer.createTransport({ host: "127.0.0.1", port: frontend.frontend()?.port ?? 0, tls: { rejectUnauthorized: false } });
    await t.sendMail({ from: "bob@remote.test", to: "alice@local.test", subject: "metrics", text: "hi" });
    t.close();
    await until(async () => (await scrape(first)).get('mailcluster_queue_time_seconds_count{kind="local",outcome="delivered"}') === 1, "the delivery is observed");
    const s = await scrape(first);
    expect(s.get('mailcluster_queue_time_seconds_bucket{kind="local",outcome="delivered",le="+Inf"}')).toBe(1);
    expect(s.get('mailcluster_queue_time_seconds_sum{kind="local",outcome="delivered"}')).toBeGreaterThanOrEqual(0);
    expect(s.get('mailcluster_delivery_attempt_duration_seconds_count{kind="local",outcome="delivered"}')).toBe(1);
    expect(s.get('mailcluster_delivery_outcomes_total{kind="local",outcome="delivered",status_class="2",status_subject="2.0"}')).toBe(1);
    expect(s.get('mailcluster_smtp_transaction_duration_seconds_count{result="accepted"}')).toBe(1);
    // Per-member process figures, on every member.
    for (const m of [s, await scrape(second)]) {
      expect(m.get("process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
      expect(m.get("mailcluster_event_loop_lag_seconds")).toBeGreaterThanOrEqual(0);
      expect(m.get('mailcluster_db_connections{state="active"}')).toBeGreaterThanOrEqual(0);
      expect(names(m, "mailcluster_member_info")).toHaveLength(1);
    }
    expect(names(s, "mailcluster_member_info")[0]).toContain('member="metrics-a"');
  });

  it("the queue depth history is sampled by the exporter only", async () => {
    // Each member tries a sample at start; only the one that exports the cluster figures takes it.
    await until(async () => (await queryRows(tdb.storage.db, sql`SELECT 1 FROM queue_depth_samples`)).length > 0, "a queue depth sample");
    const by = await queryRows(tdb.storage.db, sql`SELECT DISTINCT sampled_by FROM queue_depth_samples`);
    expect(by.map((r) => r.sampled_by)).toEqual(["metrics-a"]);
  });

  it("the cluster-wide queue gauges are exported by one member only, and handed over when it stops", async () => {
    const at = new Date(Date.now() - 3600_000);
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "x@local.test", recipients: [{ address: "a@far.test" }, { address: "b@far.test" }, { address: "c@near.test" }] },
      content: new TextEncoder().encode("Subject: q\r\n\r\nq\r\n"),
      submittedBy: "metrics-b",
      processor: "metrics-b",
      now: at,
    });
    const [a, b] = [await scrape(first), await scrape(second)];
    expect(a.get("mailcluster_cluster_figures_exporter")).toBe(1);
    expect(b.get("mailcluster_cluster_figures_exporter")).toBe(0);
    expect(a.get('mailcluster_queue_recipients{state="queued",domain="far.test"}')).toBe(2);
    expect(a.get('mailcluster_queue_recipients{state="queued",domain="near.test"}')).toBe(1);
    expect(a.get('mailcluster_queue_oldest_age_seconds{state="queued"}')).toBeGreaterThanOrEqual(3600);
    expect(names(b, "mailcluster_queue_recipients")).toEqual([]);
    expect(names(b, "mailcluster_queue_oldest_age_seconds")).toEqual([]);
    // Summed across both members, as Prometheus would, the depth is the real one.
    const total = [a, b].flatMap((m) => names(m, "mailcluster_queue_recipients").map((k) => m.get(k) ?? 0)).reduce((x, y) => x + y, 0);
    expect(total).toBe(3);

    await first.stop();
    firstStopped = true;
    await until(async () => (await scrape(second)).get("mailcluster_cluster_figures_exporter") === 1, "the second member takes over the cluster gauges");
    expect((await scrape(second)).get('mailcluster_queue_recipients{state="queued",domain="far.test"}')).toBe(2);
  }, 30_000);
});
