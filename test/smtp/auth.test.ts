import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import nodemailer from "nodemailer";
import { sql } from "drizzle-orm";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, opened, queueCounts, RawClient, startHarness, type Harness } from "./harness.ts";

let tdb: TestDatabase;
let h: Harness;

const plain = (user: string, pass: string) => Buffer.from(`\0${user}\0${pass}`).toString("base64");

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test", password: "alice-secret" });
  await addAccount(tdb.storage.db, { address: "off@local.test", password: "off-secret" });
  await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = false WHERE address = 'off@local.test'`);
  h = await startHarness(tdb.storage, { smtp_auth_max_failures: 3, smtp_auth_lockout_seconds: 60 }, { submissionPort: 0, smtpsPort: 0 });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  h.settings.allow_insecure_auth = false;
  h.frontend.throttle.succeed("127.0.0.1");
  await clearQueue(tdb.storage);
});

describe("AUTH only after STARTTLS", () => {
  it("port 25: AUTH is neither advertised nor accepted in cleartext, both after STARTTLS", async () => {
    const c = await RawClient.connect(h.port);
    await c.reply();
    const ehlo = await c.cmd("EHLO client.test");
    for (const ext of ["PIPELINING", "8BITMIME", "SMTPUTF8", `SIZE ${h.settings.max_message_bytes}`, "ENHANCEDSTATUSCODES", "DSN", "STARTTLS"]) {
      expect(ehlo.lines.map((l) => l.slice(4))).toContain(ext);
    }
    expect(ehlo.lines.some((l) => l.includes("AUTH"))).toBe(false);
    expect((await c.cmd(`AUTH PLAIN ${plain("alice@local.test", "alice-secret")}`)).lines[0]).toBe("530 5.7.0 Must issue a STARTTLS command first");
    const t = await c.startTls();
    const ehlo2 = await t.cmd("EHLO client.test");
    expect(ehlo2.lines.map((l) => l.slice(4))).toContain("AUTH PLAIN LOGIN");
    expect(ehlo2.lines.some((l) => l.includes("STARTTLS"))).toBe(false);
    expect((await t.cmd(`AUTH PLAIN ${plain("alice@local.test", "alice-secret")}`)).lines[0]).toMatch(/^235 /);
    await t.cmd("QUIT");
    t.end();
  });

  it("allow_insecure_auth lets AUTH through in cleartext (dev/test setting)", async () => {
    h.settings.allow_insecure_auth = true;
    const c = await opened(h.port);
    expect((await c.cmd(`AUTH PLAIN ${plain("alice@local.test", "alice-secret")}`)).lines[0]).toMatch(/^235 /);
    await c.cmd("QUIT");
  });

  it("an authenticated user may relay; the message records the user and Received says so", async () => {
    const t = nodemailer.createTransport({ host: "127.0.0.1", port: h.port, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: "Alice@Local.test", pass: "alice-secret" } });
    const info = await t.sendMail({ from: "alice@local.test", to: "friend@elsewhere.test", subject: "out", text: "hi" });
    t.close();
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+/);
    const [msg] = await queryRows(tdb.storage.db, sql`SELECT authenticated_user, protocol, convert_from(b.content, 'UTF8') AS body FROM messages m JOIN message_bodies b ON b.message_id = m.id`);
    expect(str(msg.authenticated_user)).toBe("alice@local.test");
    expect(str(msg.protocol)).toBe("ESMTPSA");
    expect(str(msg.body)).toContain("(authenticated as alice@local.test)");
  });
});

describe("bad credentials", () => {
  it("535 5.7.8 for wrong password, unknown user and disabled account; then locked out with 454 4.7.0 until the lockout passes", async () => {
    h.settings.allow_insecure_auth = true;
    const c = await opened(h.port);
    expect((await c.cmd(`AUTH PLAIN ${plain("alice@local.test", "wrong")}`)).lines[0]).toMatch(/^535 5\.7\.8 /);
    expect((await c.cmd(`AUTH PLAIN ${plain("nobody@local.test", "x")}`)).lines[0]).toMatch(/^535 5\.7\.8 /);
    expect((await c.cmd(`AUTH PLAIN ${plain("off@local.test", "off-secret")}`)).lines[0]).toMatch(/^535 5\.7\.8 /);
    // Three failures: even the right password is refused now.
    expect((await c.cmd(`AUTH PLAIN ${plain("alice@local.test", "alice-secret")}`)).lines[0]).toMatch(/^454 4\.7\.0 /);
    expect(h.frontend.throttle.lockedFor("127.0.0.1")).toBeGreaterThan(0);
    h.clock.advance(61_000);
    expect((await c.cmd(`AUTH PLAIN ${plain("alice@local.test", "alice-secret")}`)).lines[0]).toMatch(/^235 /);
    await c.cmd("QUIT");
  });

  it("AUTH LOGIN works and fails the same way", async () => {
    h.settings.allow_insecure_auth = true;
    const c = await opened(h.port);
    expect((await c.cmd("AUTH LOGIN")).code).toBe(334);
    expect((await c.cmd(Buffer.from("alice@local.test").toString("base64"))).code).toBe(334);
    expect((await c.cmd(Buffer.from("nope").toString("base64"))).lines[0]).toMatch(/^535 5\.7\.8 /);
    expect((await c.cmd("AUTH LOGIN")).code).toBe(334);
    expect((await c.cmd(Buffer.from("alice@local.test").toString("base64"))).code).toBe(334);
    expect((await c.cmd(Buffer.from("alice-secret").toString("base64"))).lines[0]).toMatch(/^235 /);
    await c.cmd("QUIT");
  });
});

describe("submission and implicit-TLS ports require AUTH", () => {
  it("submission: MAIL before AUTH → 530 5.7.0; nothing enqueued", async () => {
    const port = h.frontend.ports.submission ?? 0;
    const c = await opened(port);
    expect((await c.cmd("MAIL FROM:<alice@local.test>")).lines[0]).toMatch(/^530 5\.7\.0 /);
    const t = await c.startTls();
    await t.cmd("EHLO client.test");
    expect((await t.cmd("MAIL FROM:<alice@local.test>")).lines[0]).toMatch(/^530 5\.7\.0 /);
    await t.cmd("QUIT");
    t.end();
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
  });

  it("implicit TLS: nodemailer with secure: true and AUTH delivers", async () => {
    const t = nodemailer.createTransport({ host: "127.0.0.1", port: h.frontend.ports.smtps, secure: true, tls: { rejectUnauthorized: false }, auth: { user: "alice@local.test", pass: "alice-secret" } });
    const info = await t.sendMail({ from: "alice@local.test", to: "friend@elsewhere.test", subject: "tls", text: "hi" });
    t.close();
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+/);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });
});
