import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { runDelayDsnPass, runFailureDsnPass } from "../../src/dsn/generate.ts";
import { composeDsn, foldField, rfc5322Date } from "../../src/dsn/compose.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import type { EnvelopeRecipient } from "../../src/domain/types.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { testContext } from "../relay/context.ts";
import { parseDsn } from "../relay/dsn-parse.ts";
import { fakeDns } from "../relay/fake-dns.ts";
import { queuePass } from "../relay/queue-pass.ts";
import { sinkWorld } from "../relay/sink-world.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
const ORIGINAL = Buffer.from("From: alice@origin.test\r\nTo: many@dest.test\r\nSubject: quarterly figures\r\nMessage-ID: <orig-1@origin.test>\r\n\r\nthe figures, attached in spirit\r\n");

describe("RFC 3464 composition", () => {
  it("round-trips through mailparser with every field", async () => {
    const arrival = new Date(T0);
    const last = new Date(T0 + 60_000);
    const raw = composeDsn({
      kind: "failure",
      reportingMta: "mta.test.example",
      to: "alice@origin.test",
      envid: "ENV-7",
      arrivalDate: arrival,
      date: last,
      recipients: [
        { address: "gone@dest.test", orcpt: "rfc822;Gone+2BTag@dest.test", action: "failed", reply: { code: 550, enhanced: "5.1.1", text: "no such user" }, remoteHost: "mx1.dest.test[192.0.2.1]:25", lastAttemptAt: last },
        { address: "x@nomail.test", orcpt: null, action: "failed", reply: { code: 556, enhanced: "5.1.10", text: "null MX" }, remoteHost: null, lastAttemptAt: last },
      ],
      original: ORIGINAL,
      ret: "FULL",
      unique: "t1",
    });
    const d = await parseDsn(raw);
    expect(d.subject).toBe("Undelivered Mail Returned to Sender");
    expect(d.from).toBe("MAILER-DAEMON@mta.test.example");
    expect(d.to).toBe("alice@origin.test");
    expect(d.autoSubmitted).toBe("auto-replied");
    expect(d.contentType).toMatchObject({ value: "multipart/report", params: { "report-type": "delivery-status" } });
    expect(d.human).toContain("<gone@dest.test>: failed (host mx1.dest.test said: 550 5.1.1 no such user)");
    expect(d.perMessage).toEqual({ "Reporting-MTA": "dns; mta.test.example", "Original-Envelope-Id": "ENV-7", "Arrival-Date": rfc5322Date(arrival) });
    expect(d.recipients).toEqual([
      {
        "Final-Recipient": "rfc822; gone@dest.test",
        "Original-Recipient": "rfc822; Gone+Tag@dest.test",
        Action: "failed",
        Status: "5.1.1",
        "Remote-MTA": "dns; mx1.dest.test",
        "Diagnostic-Code": "smtp; 550 5.1.1 no such user",
        "Last-Attempt-Date": rfc5322Date(last),
      },
      { "Final-Recipient": "rfc822; x@nomail.test", Action: "failed", Status: "5.1.10", "Diagnostic-Code": "X-Mailcluster; 556 5.1.10 null MX", "Last-Attempt-Date": rfc5322Date(last) },
    ]);
    expect(d.returned).toEqual({ contentType: "message/rfc822", content: ORIGINAL.toString() });
  });

  it("RET=HDRS returns only the header section; long diagnostics are folded", async () => {
    const long = "x".repeat(30) + " " + "y".repeat(60) + " " + "z".repeat(20);
    const raw = composeDsn({
      kind: "failure",
      reportingMta: "mta.test.example",
      to: "alice@origin.test",
      envid: null,
      arrivalDate: new Date(T0),
      date: new Date(T0),
      recipients: [{ address: "a@dest.test", orcpt: null, action: "failed", reply: { code: 550, enhanced: null, text: long }, remoteHost: null, lastAttemptAt: null }],
      original: ORIGINAL,
      ret: "HDRS",
      unique: "t2",
    });
    for (const line of raw.toString().split("\r\n")) expect(line.length).toBeLessThanOrEqual(998);
    expect(foldField("Diagnostic-Code", `smtp; 550 ${long}`).split("\r\n").length).toBeGreaterThan(1);
    const d = await parseDsn(raw);
    expect(d.perMessage["Original-Envelope-Id"]).toBeUndefined();
    expect(d.recipients[0].Status).toBe("5.0.0");
    expect(d.recipients[0]["Diagnostic-Code"]).toBe(`X-Mailcluster; 550 ${long}`);
    expect(d.returned?.contentType).toBe("text/rfc822-headers");
    expect(d.returned?.content).toContain("Subject: quarterly figures");
    expect(d.returned?.content).not.toContain("the figures, attached in spirit");
  });

  it("refuses to compose a report about nobody", () => {
    expect(() =>
      composeDsn({ kind: "failure", reportingMta: "m", to: "a@b", envid: null, arrivalDate: new Date(), date: new Date(), recipients: [], original: ORIGINAL, ret: "HDRS", unique: "x" }),
    ).toThrow(/at least one recipient/);
  });
});

describe("DSN generation from the queue", () => {
  const world = sinkWorld(T0);
  const { clock } = world;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink({ rcpt: (a) => (a.startsWith("gone") ? "reject" : a.startsWith("busy") ? "defer" : "accept") });
  });
  afterAll(async () => {
    await sink.close();
  });
  beforeEach(() => {
    sink.messages.length = 0;
  });

  function setup(settings: Parameters<typeof testContext>[2] extends infer O ? (O extends { settings?: infer S } ? S : never) : never = {}) {
    const ctx = testContext(world.storage, clock, { settings });
    const relay = world.relay(ctx, {
      resolver: fakeDns({ "dest.test": { mx: [{ exchange: "mx1.dest.test", priority: 10 }] }, "mx1.dest.test": { a: ["127.0.0.1"] } }),
      random: { next: () => 0.5 },
      mxPort: () => sink.port,
    });
    return { ctx, transport: createRelayTransport(relay) };
  }

  async function submit(recipients: EnvelopeRecipient[], o: { sender?: string; envid?: string; ret?: "FULL" | "HDRS" } = {}) {
    return submitMessage(world.storage.db, {
      envelope: { sender: o.sender ?? "alice@origin.test", recipients, envid: o.envid ?? null, ret: o.ret ?? null },
      content: ORIGINAL,
      submittedBy: "relay-test",
      processor: "relay-test",
      now: clock.now(),
    });
  }

  async function dsns() {
    const rows = await queryRows(
      world.storage.db,
      sql`SELECT m.id, m.sender, m.kind, b.content, (SELECT string_agg(address, ',' ORDER BY id) FROM recipients r WHERE r.message_id = m.id) AS rcpts
          FROM messages m JOIN message_bodies b ON b.message_id = m.id WHERE m.kind = 'dsn' ORDER BY m.id`,
    );
    return rows.map((r) => ({ id: num(r.id), sender: str(r.sender), rcpts: str(r.rcpts), content: Buffer.from(r.content as Uint8Array) }));
  }

  it("one failure DSN per message to the sender, honouring NOTIFY, ORCPT, ENVID and RET; exactly once", async () => {
    const { ctx, transport } = setup();
    const { messageId } = await submit(
      [
        { address: "gone1@dest.test", orcpt: "rfc822;Gone1@dest.test" },
        { address: "gone2@dest.test", notify: ["NEVER"] },
        { address: "gone3@dest.test", notify: ["FAILURE"] },
        { address: "ok@dest.test", notify: ["SUCCESS"] },
        { address: "ok2@dest.test" },
      ],
      { envid: "ENV-1", ret: "HDRS" },
    );
    const pass = await queuePass(ctx, transport);
    expect(pass.doneMessageIds).toEqual([messageId]);
    clock.advance(1000);
    expect(await runFailureDsnPass(ctx, { messageIds: pass.doneMessageIds })).toEqual({ checked: 1, sent: 1, dropped: 0 });
    // Again, and the periodic pass over everything: nothing new.
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });

    const [dsn, ...more] = await dsns();
    expect(more).toHaveLength(0);
    expect(dsn.sender).toBe("");
    expect(dsn.rcpts).toBe("alice@origin.test");
    const d = await parseDsn(dsn.content);
    expect(d.perMessage).toMatchObject({ "Reporting-MTA": "dns; mta.test.example", "Original-Envelope-Id": "ENV-1", "Arrival-Date": rfc5322Date(new Date(T0)) });
    const byRcpt = Object.fromEntries(d.recipients.map((r) => [r["Final-Recipient"], r]));
    expect(Object.keys(byRcpt).sort()).toEqual(["rfc822; gone1@dest.test", "rfc822; gone3@dest.test", "rfc822; ok@dest.test"]);
    expect(byRcpt["rfc822; gone1@dest.test"]).toEqual({
      "Final-Recipient": "rfc822; gone1@dest.test",
      "Original-Recipient": "rfc822; Gone1@dest.test",
      Action: "failed",
      Status: "5.1.1",
      "Remote-MTA": "dns; mx1.dest.test",
      "Diagnostic-Code": "smtp; 550 5.1.1 no such user here (sink)",
      "Last-Attempt-Date": rfc5322Date(new Date(T0)),
    });
    expect(byRcpt["rfc822; ok@dest.test"]).toMatchObject({ Action: "relayed", Status: "2.0.0" });
    expect(d.returned?.contentType).toBe("text/rfc822-headers");
    const [marker] = await queryRows(world.storage.db, sql`SELECT dsn_checked_at FROM messages WHERE id = ${messageId}`);
    expect(marker.dsn_checked_at).not.toBeNull();
  });

  it("no DSN for the null sender, nor when every recipient was delivered", async () => {
    const { ctx, transport } = setup();
    await submit([{ address: "gone@dest.test" }], { sender: "" });
    await submit([{ address: "ok@dest.test" }]);
    await queuePass(ctx, transport);
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 2, sent: 0, dropped: 0 });
    expect(await dsns()).toHaveLength(0);
  });

  it("an undeliverable DSN goes to postmaster once; when that fails too it is dropped", async () => {
    const { ctx, transport } = setup({ dsn_postmaster: "gone-postmaster@dest.test" });
    await submit([{ address: "gone@dest.test" }], { sender: "gone-sender@dest.test" });
    await queuePass(ctx, transport);
    await runFailureDsnPass(ctx);
    // The bounce to gone-sender@ fails in turn.
    await queuePass(ctx, transport);
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 1, sent: 1, dropped: 0 });
    const all = await dsns();
    expect(all.map((x) => x.rcpts)).toEqual(["gone-sender@dest.test", "gone-postmaster@dest.test"]);
    const d = await parseDsn(all[1].content);
    expect(d.recipients[0]["Final-Recipient"]).toBe("rfc822; gone-sender@dest.test");
    // The postmaster copy fails as well: dropped, nothing new.
    await queuePass(ctx, transport);
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 1, sent: 0, dropped: 1 });
    expect(await dsns()).toHaveLength(2);
  });

  it("a recipient bounced by an administrator (failed outside the relay) is reported by the periodic pass", async () => {
    const { ctx } = setup();
    const { messageId } = await submit([{ address: "held@dest.test" }]);
    await world.storage.db.execute(
      sql`UPDATE recipients SET state = 'failed', last_code = 550, last_status = '5.0.0', last_text = 'bounced by administrator', final_at = now() WHERE message_id = ${messageId}`,
    );
    await world.storage.db.execute(sql`UPDATE messages SET pending_recipients = 0, done_at = now() WHERE id = ${messageId}`);
    expect(await runFailureDsnPass(ctx)).toMatchObject({ sent: 1 });
    const d = await parseDsn((await dsns())[0].content);
    expect(d.recipients[0]).toMatchObject({ Action: "failed", "Diagnostic-Code": "X-Mailcluster; 550 5.0.0 bounced by administrator" });
    expect(d.recipients[0]["Remote-MTA"]).toBeUndefined();
  });

  it("a message whose DSN cannot be made does not hold up the others", async () => {
    const { ctx, transport } = setup();
    // A sender without a domain: the DSN's submit refuses it, inside the pass's transaction.
    const bad = await submit([{ address: "gone1@dest.test" }], { sender: "no-domain" });
    await submit([{ address: "gone2@dest.test" }]);
    await queuePass(ctx, transport);
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 1, sent: 1, dropped: 0 });
    expect((await dsns()).map((x) => x.rcpts)).toEqual(["alice@origin.test"]);
    const [row] = await queryRows(world.storage.db, sql`SELECT dsn_checked_at FROM messages WHERE id = ${bad.messageId}`);
    expect(row.dsn_checked_at).toBeNull();
  });

  it("concurrent passes on two pools still produce exactly one DSN", async () => {
    const { ctx, transport } = setup();
    for (let i = 0; i < 10; i++) await submit([{ address: `gone${i}@dest.test` }]);
    await queuePass(ctx, transport);
    const other = world.open(4);
    const ctx2 = testContext(other, clock, { config: { memberName: "other" } });
    const [a, b] = await Promise.all([runFailureDsnPass(ctx), runFailureDsnPass(ctx2)]);
    expect(a.sent + b.sent).toBe(10);
    expect(await dsns()).toHaveLength(10);
  });

  it("delay DSN: off by default; when enabled, once per recipient after the delay, NOTIFY honoured", async () => {
    const { ctx, transport } = setup();
    await submit([{ address: "busy1@dest.test" }, { address: "busy2@dest.test", notify: ["FAILURE"] }, { address: "busy3@dest.test", notify: ["DELAY"] }], { envid: "E9" });
    await queuePass(ctx, transport);
    clock.advance(5 * 3600_000);
    expect(await runDelayDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });

    ctx.set({ delay_dsn_after_seconds: 4 * 3600 });
    expect(await runDelayDsnPass(ctx)).toEqual({ checked: 2, sent: 1, dropped: 0 });
    expect(await runDelayDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });
    const [dsn] = await dsns();
    const d = await parseDsn(dsn.content);
    expect(d.subject).toBe("Delayed Mail (still being retried)");
    expect(d.perMessage["Original-Envelope-Id"]).toBe("E9");
    expect(d.recipients.map((r) => [r["Final-Recipient"], r.Action, r.Status])).toEqual([
      ["rfc822; busy1@dest.test", "delayed", "4.2.0"],
      ["rfc822; busy3@dest.test", "delayed", "4.2.0"],
    ]);
    expect(d.recipients[0]["Will-Retry-Until"]).toBe(rfc5322Date(new Date(T0 + 5 * 86400_000)));
    expect(d.returned?.contentType).toBe("text/rfc822-headers");
  });
});
