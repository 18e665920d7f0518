import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import nodemailer from "nodemailer";
import { sql } from "drizzle-orm";
import { addAccount, addAlias, addDomain } from "../../src/accounts/store.ts";
import { queryRows, num, str } from "../../src/db/rows.ts";
import type { SubmissionInput, SubmissionRules, SubmissionVerdict } from "../../src/domain/submission-rules.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, messageBody, opened, queueCounts, queueIdOf, queuedRecipients, startHarness, type Harness } from "./harness.ts";

let tdb: TestDatabase;
let h: Harness;
let verdict: SubmissionVerdict = { kind: "accept" };
const seen: SubmissionInput[] = [];
const rules: SubmissionRules = {
  evaluate: async (input) => {
    seen.push(input);
    return verdict;
  },
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test", password: "alice-secret" });
  await addAccount(tdb.storage.db, { address: "bob@local.test" });
  await addAlias(tdb.storage.db, "team@local.test", ["alice@local.test", "bob@local.test"]);
  h = await startHarness(tdb.storage, {}, { rules });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  verdict = { kind: "accept" };
  seen.length = 0;
  await clearQueue(tdb.storage);
});

function transport(options: { secure?: boolean; auth?: { user: string; pass: string } } = {}) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port: h.port,
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: options.auth,
  });
}

describe("accepting mail for local recipients", () => {
  it("commits message, body and one queue row per recipient before 250 with the queue id", async () => {
    const t = transport();
    const info = await t.sendMail({
      from: "sender@elsewhere.test",
      to: ["alice@local.test", "Bob@LOCAL.test", "team@local.test"],
      subject: "hello",
      messageId: "<accept-1@elsewhere.test>",
      text: "body text",
    });
    t.close();
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+/);
    const id = Number(/queued as (\d+)/.exec(info.response)?.[1]);
    const rcpts = await queuedRecipients(tdb.storage, id);
    expect(rcpts.map((r) => r.address)).toEqual(["alice@local.test", "Bob@local.test", "team@local.test"]);
    const [msg] = await queryRows(tdb.storage.db, sql`SELECT sender, rule_invocations, submitted_by, processor, tls, client_helo, pending_recipients, subject, header_message_id FROM messages WHERE id = ${id}`);
    expect(str(msg.sender)).toBe("sender@elsewhere.test");
    // Kept for the delivery log's search, from the header fields the frontend split for the rules.
    expect([msg.subject, msg.header_message_id]).toEqual(["hello", "accept-1@elsewhere.test"]);
    expect(num(msg.rule_invocations)).toBe(1);
    expect(str(msg.submitted_by)).toBe("fe-test");
    expect(str(msg.processor)).toBe("fe-test");
    expect(msg.tls).toBe(true); // nodemailer upgrades with STARTTLS when offered
    expect(num(msg.pending_recipients)).toBe(3);
    const body = await messageBody(tdb.storage, id);
    expect(body.startsWith("Received: from ")).toBe(true);
    expect(body).toMatch(/by mx\.test \(mailcluster\) with ESMTPS id [0-9a-z]+\.\d+/);
    expect(body).toMatch(/\(using TLSv1\.[23] /);
    expect(body).not.toMatch(/\tfor </); // several recipients: none named
    expect(body).toContain("Subject: hello");
    expect(seen).toHaveLength(1);
    expect(seen[0].headers.find((f) => f.name === "Subject")?.value).toBe("hello");
    expect(h.ctx.metrics.value("mailcluster_rule_invocations_total", { stage: "smtp" })).toBeGreaterThanOrEqual(1);
  });

  it("names the single recipient in Received and keeps several messages per connection apart", async () => {
    const c = await opened(h.port);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
      expect((await c.cmd("DATA")).code).toBe(354);
      const done = await c.cmd(`Subject: n${i}\r\n\r\nline\r\n..dot-stuffed\r\n.`);
      expect(done.code).toBe(250);
      ids.push(queueIdOf(done));
    }
    await c.cmd("QUIT");
    expect(new Set(ids).size).toBe(3);
    const body = await messageBody(tdb.storage, ids[2]);
    expect(body).toMatch(/\tfor <alice@local\.test>; \w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    expect(body).toContain("with ESMTP id");
    expect(body.endsWith("Subject: n2\r\n\r\nline\r\n.dot-stuffed\r\n")).toBe(true);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 3, recipients: 3, bodies: 3 });
  });

  it("stores DSN parameters (RET, ENVID, NOTIFY, ORCPT) with the message and recipients", async () => {
    const c = await opened(h.port);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> RET=HDRS ENVID=abc+2Bdef")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<alice@local.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@local.test")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<bob@local.test> NOTIFY=NEVER")).code).toBe(250);
    expect((await c.cmd("DATA")).code).toBe(354);
    const id = queueIdOf(await c.cmd("Subject: dsn\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    const [msg] = await queryRows(tdb.storage.db, sql`SELECT dsn_ret, dsn_envid FROM messages WHERE id = ${id}`);
    expect(msg).toEqual({ dsn_ret: "HDRS", dsn_envid: "abc+def" });
    expect(await queuedRecipients(tdb.storage, id)).toEqual([
      { address: "alice@local.test", orcpt: "rfc822;alice@local.test", notify: "SUCCESS,FAILURE" },
      { address: "bob@local.test", orcpt: null, notify: "NEVER" },
    ]);
  });

  it("rejects bad DSN parameters with 501 and enqueues nothing", async () => {
    const c = await opened(h.port);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> RET=EVERYTHING")).code).toBe(501);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test> FOO=bar")).lines[0]).toMatch(/^555 5\.5\.4 /);
    expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<alice@local.test> NOTIFY=SOMETIMES")).code).toBe(501);
    expect((await c.cmd("RCPT TO:<alice@local.test> NOTIFY=NEVER,SUCCESS")).code).toBe(501);
    expect((await c.cmd("RCPT TO:<alice@local.test> ORCPT=nonsense")).code).toBe(501);
    expect((await c.cmd("RCPT TO:<alice@local.test> BOGUS=1")).lines[0]).toMatch(/^555 5\.5\.4 /);
    expect((await c.cmd(`RCPT TO:<alice@local.test> ORCPT=rfc822;${"a".repeat(600)}@local.test`)).lines[0]).toMatch(/^501 5\.5\.4 ORCPT/);
    await c.cmd("RSET");
    expect((await c.cmd(`MAIL FROM:<s@elsewhere.test> ENVID=${"e".repeat(101)}`)).lines[0]).toMatch(/^501 5\.5\.4 ENVID/);
    expect((await c.cmd("DATA")).code).toBe(503);
    await c.cmd("QUIT");
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
  });

  it("accepts UTF-8 addresses with SMTPUTF8 and refuses them without", async () => {
    const c = await opened(h.port);
    expect((await c.cmd("MAIL FROM:<jörg@elsewhere.test>")).lines[0]).toMatch(/^553 5\.6\.7 /);
    expect((await c.cmd("MAIL FROM:<jörg@elsewhere.test> SMTPUTF8")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
    expect((await c.cmd("DATA")).code).toBe(354);
    const id = queueIdOf(await c.cmd("Subject: ü\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    const [msg] = await queryRows(tdb.storage.db, sql`SELECT sender FROM messages WHERE id = ${id}`);
    expect(str(msg.sender)).toBe("jörg@elsewhere.test");
  });
});

describe("the submission rules hook", () => {
  it("reject: the rule's reply goes to the client and nothing is enqueued", async () => {
    verdict = { kind: "reject", reply: { code: 550, enhanced: "5.7.1", text: "message refused by policy" } };
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    await c.cmd("RCPT TO:<alice@local.test>");
    await c.cmd("DATA");
    const r = await c.cmd("Subject: spam\r\n\r\nx\r\n.");
    expect(r.lines[0]).toBe("550 5.7.1 message refused by policy");
    await c.cmd("QUIT");
    expect(seen).toHaveLength(1);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
  });

  it("discard: 250 and nothing enqueued; accept with headers: they are prepended", async () => {
    verdict = { kind: "discard" };
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    await c.cmd("RCPT TO:<alice@local.test>");
    await c.cmd("DATA");
    expect((await c.cmd("Subject: x\r\n\r\nx\r\n.")).lines[0]).toMatch(/^250 2\.0\.0 .*discarded/);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
    verdict = { kind: "accept", addHeaders: ["X-Rule: tagged\r\nInjected: no"] };
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    await c.cmd("RCPT TO:<alice@local.test>");
    await c.cmd("DATA");
    const id = queueIdOf(await c.cmd("Subject: y\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    const body = await messageBody(tdb.storage, id);
    expect(body).toMatch(/\r\nX-Rule: tagged Injected: no\r\nSubject: y\r\n/);
    expect(seen).toHaveLength(2);
  });

  it("accept with recipients: the envelope recipients are replaced (redirect)", async () => {
    verdict = { kind: "accept", recipients: [{ address: "bob@local.test" }, { address: "archive@elsewhere.test", notify: ["NEVER"] }] };
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    await c.cmd("RCPT TO:<alice@local.test>");
    await c.cmd("DATA");
    const id = queueIdOf(await c.cmd("Subject: z\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    expect(await queuedRecipients(tdb.storage, id)).toEqual([
      { address: "bob@local.test", orcpt: null, notify: null },
      { address: "archive@elsewhere.test", orcpt: null, notify: "NEVER" },
    ]);
    expect(seen[0].envelope.recipients.map((r) => r.address)).toEqual(["alice@local.test"]);
  });
});

describe("database failures", () => {
  it("a failing commit answers 451 4.3.0, leaves nothing, and the frontend keeps serving", async () => {
    let fail = true;
    const h2 = await startHarness(tdb.storage, {}, {
      submit: async (input) => {
        if (fail) {
          // Fail inside a real transaction after the message row went in: the rollback must leave nothing.
          return tdb.storage.db.transaction(async (tx) => {
            await tx.execute(sql`INSERT INTO messages (sender, size_bytes, submitted_by, pending_recipients, created_at) VALUES ('x', 1, 'x', 1, now())`);
            throw new Error("connection lost");
          });
        }
        const { submitMessage } = await import("../../src/queue/submit.ts");
        return submitMessage(tdb.storage.db, input);
      },
    });
    try {
      const c = await opened(h2.port);
      await c.cmd("MAIL FROM:<s@elsewhere.test>");
      await c.cmd("RCPT TO:<alice@local.test>");
      await c.cmd("DATA");
      expect((await c.cmd("Subject: x\r\n\r\nx\r\n.")).lines[0]).toMatch(/^451 4\.3\.0 /);
      expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
      fail = false;
      await c.cmd("MAIL FROM:<s@elsewhere.test>");
      await c.cmd("RCPT TO:<alice@local.test>");
      await c.cmd("DATA");
      expect((await c.cmd("Subject: x\r\n\r\nx\r\n.")).code).toBe(250);
      await c.cmd("QUIT");
      expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
    } finally {
      await h2.close();
    }
  });

  it("an unreachable database at RCPT answers 451 4.3.0", async () => {
    const dead = tdb.open(1);
    await dead.close();
    const h3 = await startHarness(dead);
    try {
      const c = await opened(h3.port);
      expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<alice@local.test>")).lines[0]).toMatch(/^451 4\.3\.0 /);
      await c.cmd("QUIT");
    } finally {
      await h3.close();
    }
  });
});
