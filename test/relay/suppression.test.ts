import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { num, queryRows, str, strOrNull } from "../../src/db/rows.ts";
import { renderMetrics } from "../../src/http/metrics.ts";
import { observeDeliveries } from "../../src/metrics/delivery-metrics.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { addSuppressions, getSuppression } from "../../src/suppression/store.ts";
import { adminApp, call, items, TOKEN } from "../helpers/admin-app.ts";
import { queueShow } from "../../src/cli/commands/queue.ts";
import { dbQueue } from "../../src/cli/queue-source.ts";
import type { SmtpSinkOptions } from "../helpers/smtp-sink.ts";
import { testContext } from "./context.ts";
import { fakeDns } from "./fake-dns.ts";
import { queuePass } from "./queue-pass.ts";
import { parseDsn } from "./dsn-parse.ts";
import { sinkWorld } from "./sink-world.ts";
import { runFailureDsnPass } from "../../src/dsn/generate.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
const HOUR = 3600_000;

describe("suppression list at relay time, against a real SMTP sink", () => {
  const world = sinkWorld(T0, { truncate: ["suppressions"] });
  const { clock } = world;

  async function setup(o: SmtpSinkOptions = {}, settings: NonNullable<Parameters<typeof testContext>[2]>["settings"] = {}) {
    const s = await world.sink(o);
    const ctx = testContext(world.storage, clock, { settings: { relay_idle_ms: 0, ...settings } });
    const relay = world.relay(ctx, { resolver: fakeDns({ "dest.test": { mx: [{ exchange: "mx1.dest.test", priority: 10 }] }, "mx1.dest.test": { a: ["127.0.0.1"] } }), mxPort: () => s.port });
    return { sink: s, ctx, transport: createRelayTransport(relay) };
  }

  const submit = (recipients: string[]) =>
    submitMessage(world.storage.db, {
      envelope: { sender: "alice@origin.test", recipients: recipients.map((address) => ({ address })) },
      content: Buffer.from("From: alice@origin.test\r\nSubject: s\r\n\r\nhi\r\n"),
      submittedBy: "suppression-test",
      processor: "relay-test",
      now: clock.now(),
    });

  async function recipientsNow() {
    const rows = await queryRows(world.storage.db, sql`SELECT address, state, last_code, last_status, last_text FROM recipients ORDER BY id`);
    return rows.map((r) => ({ address: str(r.address), state: str(r.state), code: num(r.last_code), status: strOrNull(r.last_status), text: strOrNull(r.last_text) }));
  }

  it("a 5.1.1 from the sink suppresses the address; the next message to it fails at once without a connection", async () => {
    const { sink, ctx, transport } = await setup({ rcpt: (a) => (a.startsWith("gone") ? "reject" : "accept") });
    await submit(["gone@dest.test", "ok@dest.test"]);
    const first = await queuePass(ctx, transport);
    observeDeliveries(ctx, first, first.results);
    expect(sink.sessions).toBe(1);
    expect(sink.rcpts).toEqual(["gone@dest.test", "ok@dest.test"]);

    const entry = await getSuppression(ctx.db, "GONE@dest.test");
    expect(entry).toMatchObject({ address: "gone@dest.test", source: "bounce", bounceClass: "bad_mailbox", createdBy: "member:relay-test" });
    expect(entry?.reason).toContain("550 5.1.1 no such user here");
    // Default expiry: a year after the bounce.
    expect(entry?.expiresAt?.getTime()).toBe(T0 + 365 * 24 * HOUR);

    const classes = await queryRows(world.storage.db, sql`SELECT address, outcome, bounce_class FROM attempts ORDER BY id`);
    expect(classes.map((r) => [str(r.address), str(r.outcome), strOrNull(r.bounce_class)])).toEqual([
      ["gone@dest.test", "failed", "bad_mailbox"],
      ["ok@dest.test", "delivered", null],
    ]);

    // Visible in the delivery log: the API and the WebAdmin filter by class.
    const { app } = adminApp(world.storage.db);
    const log = await call(app, "GET", "/log?bounceClass=bad_mailbox");
    expect(items<{ address: string; bounceClass: string }>(log.body).map((r) => [r.address, r.bounceClass])).toEqual([["gone@dest.test", "bad_mailbox"]]);
    expect(items((await call(app, "GET", "/log?bounceClass=policy")).body)).toHaveLength(0);
    expect((await call(app, "GET", "/log?bounceClass=spam")).status).toBe(400);
    const webLog = await (await app.request("http://localhost/admin/log?bounceClass=bad_mailbox", { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(webLog).toContain("<td>gone@dest.test</td>");
    expect(webLog).not.toContain("<td>ok@dest.test</td>");
    expect(webLog).toContain("<option selected>bad_mailbox</option>");

    // And in the message's detail: API JSON, WebAdmin page, CLI `queue show`.
    const detail = await call(app, "GET", `/queue/${first.results[0].recipient.messageId}`);
    const detailBody = detail.body as { attempts: Array<{ address: string; bounceClass: string | null }> };
    expect(detailBody.attempts.map((a) => [a.address, a.bounceClass])).toEqual([
      ["gone@dest.test", "bad_mailbox"],
      ["ok@dest.test", null],
    ]);
    const webDetail = await (await app.request(`http://localhost/admin/queue/${first.results[0].recipient.messageId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(webDetail).toMatch(/<td>gone@dest\.test<\/td><td>relay-test<\/td><td>failed<\/td><td>bad_mailbox<\/td>/);
    const cliLines: string[] = [];
    await queueShow(dbQueue(world.storage.db), String(first.results[0].recipient.messageId), false, (l) => cliLines.push(l));
    expect(cliLines.join("\n")).toMatch(/failed\s*│?\s*bad_mailbox/);

    // The next message: the suppressed recipient fails before any connection, the other goes out.
    await world.storage.db.execute(sql`TRUNCATE messages, recipients RESTART IDENTITY CASCADE`);
    await submit(["Gone@Dest.test"]);
    const second = await queuePass(ctx, transport);
    observeDeliveries(ctx, second, second.results);
    expect(sink.sessions).toBe(1);
    expect(sink.rcpts).toHaveLength(2);
    const [row] = await recipientsNow();
    expect(row).toMatchObject({ state: "failed", code: 550, status: "5.1.1" });
    expect(row.text).toMatch(/^recipient is on the suppression list \(reason: 550 5\.1\.1 no such user here/);
    expect(second.doneMessageIds).toHaveLength(1);

    const metrics = await renderMetrics(ctx);
    expect(metrics).toMatch(/mailcluster_delivery_bounces_total\{kind="relay",outcome="failed",class="bad_mailbox"\} 2/);
    expect(metrics).toMatch(/mailcluster_suppressed_recipients_total 1/);
    expect(metrics).toMatch(/mailcluster_suppressions_added_total\{class="bad_mailbox"\} 1/);
  });

  it("classes not configured do not suppress; an empty setting turns automatic suppression off", async () => {
    const { ctx, transport } = await setup({ rcpt: (a) => (a.startsWith("full") ? { code: 552, text: "5.2.2 mailbox full" } : "reject") }, { suppression_auto_classes: "mailbox_full" });
    await submit(["full@dest.test", "gone@dest.test"]);
    await queuePass(ctx, transport);
    expect((await getSuppression(ctx.db, "full@dest.test"))?.bounceClass).toBe("mailbox_full");
    expect(await getSuppression(ctx.db, "gone@dest.test")).toBeNull();

    ctx.set({ suppression_auto_classes: "" });
    await submit(["other@dest.test"]);
    await queuePass(ctx, transport);
    expect(await getSuppression(ctx.db, "other@dest.test")).toBeNull();
  });

  it("a temporary failure never suppresses, even with a 4.1.1", async () => {
    const { ctx, transport } = await setup({ rcpt: () => ({ code: 450, text: "4.1.1 mailbox lookup failed, try again" }) });
    await submit(["later@dest.test"]);
    await queuePass(ctx, transport);
    expect(await getSuppression(ctx.db, "later@dest.test")).toBeNull();
    expect((await recipientsNow())[0].state).toBe("queued");
  });

  it("an expired suppression no longer applies (injected clock)", async () => {
    const { sink, ctx, transport } = await setup();
    await addSuppressions(ctx.db, { entries: [{ address: "paused@dest.test", reason: "asked us to pause", expiresAt: new Date(T0 + HOUR) }], source: "manual", createdBy: "test", now: clock.now() });
    await submit(["paused@dest.test"]);
    await queuePass(ctx, transport);
    expect(sink.sessions).toBe(0);
    expect((await recipientsNow())[0]).toMatchObject({ state: "failed", code: 550, text: `recipient is on the suppression list (reason: asked us to pause) until ${new Date(T0 + HOUR).toISOString()}` });

    clock.set(T0 + HOUR);
    await submit(["paused@dest.test"]);
    await queuePass(ctx, transport);
    expect(sink.sessions).toBe(1);
    expect(sink.messages.map((m) => m.to.map((t) => t.address))).toEqual([["paused@dest.test"]]);
  });

  it("the sender gets a DSN for a suppressed recipient, as for any permanent failure", async () => {
    const { sink, ctx, transport } = await setup();
    await addSuppressions(ctx.db, { entries: [{ address: "blocked@dest.test", reason: "hard bounce in March" }], source: "manual", createdBy: "test", now: clock.now() });
    await submit(["blocked@dest.test"]);
    const pass = await queuePass(ctx, transport);
    expect(sink.sessions).toBe(0);
    expect(await runFailureDsnPass(ctx, { messageIds: pass.doneMessageIds })).toMatchObject({ sent: 1 });
    const [dsn] = await queryRows(world.storage.db, sql`SELECT b.content FROM messages m JOIN message_bodies b ON b.message_id = m.id WHERE m.kind = 'dsn'`);
    const parsed = await parseDsn(Buffer.from(dsn.content as Uint8Array));
    expect(parsed.recipients).toEqual([
      expect.objectContaining({ "Final-Recipient": "rfc822; blocked@dest.test", Action: "failed", Status: "5.1.1", "Diagnostic-Code": "X-Mailcluster; 550 5.1.1 recipient is on the suppression list (reason: hard bounce in March)" }),
    ]);
  });

  it("a bounce replaces an expired manual entry, never one that applies", async () => {
    const { ctx, transport } = await setup({ rcpt: () => "reject" });
    await addSuppressions(ctx.db, {
      entries: [
        { address: "old@dest.test", reason: "paused last year", expiresAt: new Date(T0 - HOUR) },
        { address: "vip@dest.test", reason: "legal hold", expiresAt: null },
      ],
      source: "manual",
      createdBy: "ops",
      now: new Date(T0 - 2 * HOUR),
    });
    await submit(["old@dest.test", "vip@dest.test"]);
    await queuePass(ctx, transport);
    expect(await getSuppression(ctx.db, "vip@dest.test")).toMatchObject({ source: "manual", reason: "legal hold", createdBy: "ops", expiresAt: null });
    expect(await getSuppression(ctx.db, "old@dest.test")).toMatchObject({ source: "bounce", bounceClass: "bad_mailbox", createdBy: "member:relay-test" });
  });
});
