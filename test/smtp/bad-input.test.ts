import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, opened, queueCounts, queueIdOf, queuedRecipients, RawClient, startHarness, type Harness } from "./harness.ts";

let tdb: TestDatabase;
let h: Harness;
const EMPTY = { messages: 0, recipients: 0, bodies: 0 };

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test" });
  h = await startHarness(tdb.storage, { max_message_bytes: 10_000, max_recipients: 100, trusted_networks: "127.0.0.1" });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  await clearQueue(tdb.storage);
});

async function transaction(c: RawClient, rcpt = "alice@local.test"): Promise<void> {
  expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
  expect((await c.cmd(`RCPT TO:<${rcpt}>`)).code).toBe(250);
  expect((await c.cmd("DATA")).code).toBe(354);
}

describe("protocol abuse", () => {
  it("commands before EHLO → 503", async () => {
    const c = await RawClient.connect(h.port);
    await c.reply();
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).lines[0]).toMatch(/^503 5\.5\.1 /);
    expect((await c.cmd("RCPT TO:<alice@local.test>")).lines[0]).toMatch(/^503 5\.5\.1 /);
    expect((await c.cmd("DATA")).lines[0]).toMatch(/^503 5\.5\.1 /);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
  });

  it("an HTTP request on the SMTP port → 421 and the connection is closed", async () => {
    const c = await RawClient.connect(h.port);
    await c.reply();
    c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect((await c.reply()).lines[0]).toMatch(/^421 .*HTTP requests not allowed/);
    expect(await c.closedByServer()).toBe(true);
  });

  it("pipelined garbage: 500 5.5.2 per line, 421 after ten, nothing enqueued", async () => {
    const c = await opened(h.port);
    c.write(Array.from({ length: 12 }, (_, i) => `XYZZY${i} garbage`).join("\r\n") + "\r\n");
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await c.reply()).code);
    expect(codes.slice(0, 9)).toEqual(Array(9).fill(500));
    expect(codes[9]).toBe(421);
    expect(await c.closedByServer()).toBe(true);
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
  });

  it("command lines over 1,000 octets → 421 and close, nothing enqueued", async () => {
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    c.write(`RCPT TO:<${"a".repeat(1200)}@local.test>\r\n`);
    const r = await c.reply();
    expect(r.code).toBe(421);
    expect(await c.closedByServer()).toBe(true);
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
  });

  it("a local part over 64 octets → 553 5.1.3", async () => {
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    expect((await c.cmd(`RCPT TO:<${"a".repeat(65)}@local.test>`)).lines[0]).toMatch(/^553 5\.1\.3 /);
    await c.cmd("QUIT");
  });

  it("bare LF line endings: commands still parse; a bare-LF dot does not end DATA (no smuggling)", async () => {
    const c = await RawClient.connect(h.port);
    await c.reply();
    c.write("EHLO client.test\n");
    expect((await c.reply()).code).toBe(250);
    c.write("MAIL FROM:<s@elsewhere.test>\n");
    expect((await c.reply()).code).toBe(250);
    c.write("RCPT TO:<alice@local.test>\n");
    expect((await c.reply()).code).toBe(250);
    c.write("DATA\n");
    expect((await c.reply()).code).toBe(354);
    // "\n.\n" followed by a smuggled transaction must stay message content.
    c.write("Subject: a\r\n\r\nfirst\n.\nMAIL FROM:<evil@elsewhere.test>\r\nRCPT TO:<victim@elsewhere.test>\r\n\r\n.\r\n");
    const done = await c.reply();
    expect(done.code).toBe(250);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
    expect((await queuedRecipients(tdb.storage, queueIdOf(done))).map((r) => r.address)).toEqual(["alice@local.test"]);
  });

  it("NUL bytes: in a command → error reply; in DATA → 554 5.6.0 and nothing enqueued", async () => {
    const c = await opened(h.port);
    const r = await c.cmd("MAIL FROM:<s\0@elsewhere.test>");
    expect(r.code).toBeGreaterThanOrEqual(500);
    await transaction(c);
    expect((await c.cmd("Subject: nul\r\n\r\nbad\0byte\r\n.")).lines[0]).toMatch(/^554 5\.6\.0 /);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
  });

  it("8-bit data without BODY=8BITMIME is accepted and stored byte for byte", async () => {
    const c = await opened(h.port);
    await transaction(c);
    c.write(Buffer.from("Subject: 8bit\r\n\r\ncaf\xe9 na\xefve\r\n.\r\n", "latin1"));
    const done = await c.reply();
    expect(done.code).toBe(250);
    await c.cmd("QUIT");
    const [row] = await queryRows(tdb.storage.db, sql`SELECT encode(content, 'hex') AS hex FROM message_bodies WHERE message_id = ${queueIdOf(done)}`);
    expect(str(row.hex).endsWith(Buffer.from("caf\xe9 na\xefve\r\n", "latin1").toString("hex"))).toBe(true);
  });

  it("text lines over 1,000 octets inside DATA are kept as sent", async () => {
    const c = await opened(h.port);
    await transaction(c);
    const long = "x".repeat(3000);
    const done = await c.cmd(`Subject: long\r\n\r\n${long}\r\n.`);
    expect(done.code).toBe(250);
    await c.cmd("QUIT");
    const [row] = await queryRows(tdb.storage.db, sql`SELECT convert_from(content, 'UTF8') AS body FROM message_bodies WHERE message_id = ${queueIdOf(done)}`);
    expect(str(row.body)).toContain(long);
  });
});

describe("limits", () => {
  it("SIZE= over the limit at MAIL → 552 5.3.4; bad SIZE syntax → 501", async () => {
    const c = await opened(h.port);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> SIZE=10001")).lines[0]).toMatch(/^552 5\.3\.4 /);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> SIZE=big")).code).toBe(501);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> SIZE=9000")).code).toBe(250);
    await c.cmd("QUIT");
  });

  it("a message over the limit during DATA → 552 5.3.4 and nothing enqueued; the session goes on", async () => {
    const c = await opened(h.port);
    await transaction(c);
    const big = ("y".repeat(998) + "\r\n").repeat(15);
    expect((await c.cmd(`Subject: big\r\n\r\n${big}.`)).lines[0]).toMatch(/^552 5\.3\.4 /);
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
    await transaction(c);
    expect((await c.cmd("Subject: small\r\n\r\nok\r\n.")).code).toBe(250);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });

  it("the 101st recipient → 452 4.5.3; the message goes out with the first 100", async () => {
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    // Pipelined, the way bulk senders do it.
    c.write(Array.from({ length: 101 }, (_, i) => `RCPT TO:<r${i}@elsewhere.test>`).join("\r\n") + "\r\n");
    const replies: string[] = [];
    for (let i = 0; i < 101; i++) replies.push((await c.reply()).lines[0]);
    expect(replies.slice(0, 100).every((r) => r.startsWith("250 "))).toBe(true);
    expect(replies[100]).toMatch(/^452 4\.5\.3 /);
    expect((await c.cmd("DATA")).code).toBe(354);
    const done = await c.cmd("Subject: many\r\n\r\nx\r\n.");
    await c.cmd("QUIT");
    expect((await queuedRecipients(tdb.storage, queueIdOf(done))).length).toBe(100);
  });

  it("a client that disconnects mid-DATA leaves nothing in the queue", async () => {
    const before = h.ctx.metrics.value("mailcluster_smtp_messages_total", { result: "failed" });
    const c = await opened(h.port);
    await transaction(c);
    c.write("Subject: cut\r\n\r\nhalf a message\r\n");
    await new Promise((r) => setTimeout(r, 50));
    c.end();
    for (let i = 0; i < 200 && h.ctx.metrics.value("mailcluster_smtp_messages_total", { result: "failed" }) === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.ctx.metrics.value("mailcluster_smtp_messages_total", { result: "failed" })).toBe(before + 1);
    expect(await queueCounts(tdb.storage)).toEqual(EMPTY);
  });

  it("connections per IP beyond the limit → 421 4.7.0", async () => {
    h.settings.smtp_max_connections_per_ip = 2;
    try {
      const a = await opened(h.port);
      const b = await opened(h.port);
      const c = await RawClient.connect(h.port);
      expect((await c.reply()).lines[0]).toMatch(/^421 4\.7\.0 /);
      expect(await c.closedByServer()).toBe(true);
      await a.cmd("QUIT");
      expect(await a.closedByServer()).toBe(true);
      for (let i = 0; i < 100; i++) await new Promise((r) => setTimeout(r, 5)); // onClose runs on the next tick
      const d = await RawClient.connect(h.port);
      expect((await d.reply()).code).toBe(220);
      d.end();
      b.end();
    } finally {
      h.settings.smtp_max_connections_per_ip = 50;
    }
  });

  it("connections beyond smtp_max_connections → 421 4.7.0", async () => {
    h.settings.smtp_max_connections = 1;
    const a = await opened(h.port);
    try {
      const b = await RawClient.connect(h.port);
      expect((await b.reply()).lines[0]).toMatch(/^421 4\.7\.0 Too many connected clients/);
      expect(await b.closedByServer()).toBe(true);
    } finally {
      h.settings.smtp_max_connections = 1000;
      a.end();
    }
  });

  it("BODY=8BITMIME is accepted, an unknown BODY type → 501", async () => {
    const c = await opened(h.port);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> BODY=BINARYMIME")).code).toBe(501);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> BODY=8BITMIME")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
    expect((await c.cmd("DATA")).code).toBe(354);
    c.write(Buffer.from("Subject: 8\r\n\r\n\xe9t\xe9\r\n.\r\n", "latin1"));
    expect((await c.reply()).code).toBe(250);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });

  it("early talkers (before the greeting delay) → 421", async () => {
    h.settings.smtp_greeting_delay_ms = 300;
    try {
      const c = await RawClient.connect(h.port);
      c.write("EHLO rude.test\r\n");
      expect((await c.reply()).lines[0]).toMatch(/^421 .*talk too soon/);
    } finally {
      h.settings.smtp_greeting_delay_ms = 0;
    }
  });

  it("an idle client is disconnected with 421 after the idle timeout", async () => {
    h.settings.smtp_idle_timeout_seconds = 1;
    try {
      const c = await opened(h.port);
      const r = await c.reply(5000);
      expect(r.lines[0]).toMatch(/^421 .*Timeout/);
    } finally {
      h.settings.smtp_idle_timeout_seconds = 300;
    }
  });
});

describe("graceful shutdown", () => {
  it("stops accepting, lets the open session finish within the grace period, then 421", async () => {
    const h2 = await startHarness(tdb.storage, { smtp_shutdown_grace_seconds: 1, trusted_networks: "" });
    const c = await opened(h2.port);
    await transaction(c);
    const closing = h2.close();
    // The transaction in flight still completes.
    expect((await c.cmd("Subject: late\r\n\r\nx\r\n.")).code).toBe(250);
    await expect(RawClient.connect(h2.port)).rejects.toThrow();
    // Idle after that: 421 when the grace period ends.
    expect((await c.reply(5000)).lines[0]).toMatch(/^421 /);
    await closing;
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });
});
