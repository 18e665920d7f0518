import { sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { clusterRules } from "../../src/db/schema/rules.ts";
import type { RuleSet } from "../../src/rules/model.ts";
import { getSubmissionRules, parseSubmissionScope, setSubmissionRules } from "../../src/rules/store.ts";
import { databaseSubmissionRules, decideSubmission } from "../../src/rules/submission.ts";
import { RuleSetError, validateRuleSet } from "../../src/rules/validate.ts";
import type { SubmissionInput } from "../../src/domain/submission-rules.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, startHarness, type Harness } from "../smtp/harness.ts";

const input = (headers: Record<string, string>, extra: Partial<SubmissionInput> = {}): SubmissionInput => ({
  envelope: { sender: "alice@example.org", recipients: [{ address: "bob@example.com" }, { address: "carol@example.com" }] },
  headers: Object.entries(headers).map(([name, value]) => ({ name, value })),
  client: { address: "192.0.2.1", authenticatedUser: null },
  sizeBytes: 1234,
  ...extra,
});

const set = (rules: unknown[]): RuleSet => validateRuleSet({ rules }, "submission");

describe("decideSubmission", () => {
  it("accepts unchanged when nothing matches", () => {
    expect(decideSubmission([set([])], input({ Subject: "hi" }))).toEqual({ kind: "accept" });
  });

  it("adds headers, redirects, and runs cluster rules before member rules", () => {
    const cluster = set([
      { actions: [{ type: "add_header", name: "X-Scanned", value: "cluster" }] },
      { conditions: [{ field: "subject", op: "contains", value: "invoice" }], actions: [{ type: "redirect", to: ["billing@example.com"] }] },
    ]);
    const member = set([{ actions: [{ type: "add_header", name: "X-Member", value: "fe1" }] }]);
    expect(decideSubmission([cluster, member], input({ Subject: "Your =?UTF-8?Q?invoice?=" }))).toEqual({
      kind: "accept",
      addHeaders: ["X-Scanned: cluster", "X-Member: fe1"],
      recipients: [{ address: "billing@example.com" }],
    });
    const stopping = set([{ actions: [{ type: "stop" }] }]);
    expect(decideSubmission([stopping, member], input({}))).toEqual({ kind: "accept" });
  });

  it("reject wins over discard and discard over redirect", () => {
    const rules = set([
      { actions: [{ type: "redirect", to: ["x@example.com"] }] },
      { conditions: [{ field: "header", name: "X-Drop", op: "exists" }], actions: [{ type: "discard" }] },
      { conditions: [{ field: "size", op: "over", value: 1000 }, { field: "authenticated", value: false }], actions: [{ type: "reject", text: "too big for strangers", code: 552 }] },
    ]);
    expect(decideSubmission([rules], input({ "X-Drop": "1" }))).toEqual({ kind: "reject", reply: { code: 552, enhanced: "5.7.1", text: "too big for strangers" } });
    expect(decideSubmission([rules], input({ "X-Drop": "1" }, { client: { authenticatedUser: "alice" } }))).toEqual({ kind: "discard" });
    expect(decideSubmission([rules], input({}, { client: { authenticatedUser: "alice" } }))).toEqual({ kind: "accept", recipients: [{ address: "x@example.com" }] });
  });

  it("sees envelope sender and recipients", () => {
    const rules = set([{ conditions: [{ field: "recipient", op: "is", value: "carol@example.com" }, { field: "sender", op: "matches", value: "*@example.org" }], actions: [{ type: "reject" }] }]);
    expect(decideSubmission([rules], input({}))).toMatchObject({ kind: "reject", reply: { code: 550, text: "message refused by policy" } });
  });
});

describe("submission rules in the database and through the SMTP frontend (real PostgreSQL)", () => {
  let t: TestDatabase;
  let h: Harness;

  beforeAll(async () => {
    t = await createTestDatabase();
    await addDomain(t.storage.db, "example.com");
    for (const a of ["bob", "boss"]) await addAccount(t.storage.db, { address: `${a}@example.com` });
  });
  afterAll(async () => {
    await h?.close();
    await t.drop();
  });
  beforeEach(async () => {
    await t.storage.db.delete(clusterRules);
  });

  it("stores per scope, refuses invalid sets with their path and keeps the old one", async () => {
    const good = { rules: [{ actions: [{ type: "add_header", name: "X-A", value: "1" }] }] };
    await setSubmissionRules(t.storage.db, "cluster", good);
    await expect(setSubmissionRules(t.storage.db, "cluster", { rules: [{ actions: [{ type: "folder", folder: "x" }] }] })).rejects.toThrow(
      'rules[0].actions[0].type: "folder" is not allowed in submission rules',
    );
    expect(await getSubmissionRules(t.storage.db, "cluster")).toEqual(good);
    expect(await getSubmissionRules(t.storage.db, "member:fe1")).toEqual({ rules: [] });
    expect(parseSubmissionScope("member:fe1")).toBe("member:fe1");
    expect(() => parseSubmissionScope("everyone")).toThrow(RuleSetError);
  });

  it("re-reads the rules after the cache period; a broken stored set is skipped and reported", async () => {
    const clock = new ManualClock();
    const invalid: string[] = [];
    const rules = databaseSubmissionRules({ db: t.storage.db, member: "fe1", clock, cacheMs: 1000, onInvalid: (scope) => invalid.push(scope) });
    expect(await rules.evaluate(input({}))).toEqual({ kind: "accept" });
    await setSubmissionRules(t.storage.db, "member:fe1", { rules: [{ actions: [{ type: "discard" }] }] });
    expect(await rules.evaluate(input({}))).toEqual({ kind: "accept" });
    clock.advance(1000);
    expect(await rules.evaluate(input({}))).toEqual({ kind: "discard" });
    await t.storage.db.insert(clusterRules).values({ scope: "cluster", rules: { rules: "garbage" } });
    await rules.refresh();
    expect(await rules.evaluate(input({}))).toEqual({ kind: "discard" });
    expect(invalid).toEqual(["cluster"]);
  });

  it("the frontend applies add header, redirect, discard and reject before committing", async () => {
    await setSubmissionRules(t.storage.db, "cluster", {
      rules: [
        { conditions: [{ field: "subject", op: "contains", value: "spam" }], actions: [{ type: "reject", text: "no spam here" }] },
        { conditions: [{ field: "header", name: "X-Drop", op: "exists" }], actions: [{ type: "discard" }] },
        { conditions: [{ field: "from", op: "matches", value: "*@partner.example" }], actions: [{ type: "redirect", to: ["boss@example.com"] }] },
        { actions: [{ type: "add_header", name: "X-Scanned", value: "mailcluster" }] },
      ],
    });
    await setSubmissionRules(t.storage.db, "member:fe-test", { rules: [{ actions: [{ type: "add_header", name: "X-Member", value: "fe-test" }] }] });
    h = await startHarness(t.storage, {}, { rules: databaseSubmissionRules({ db: t.storage.db, member: "fe-test", cacheMs: 0 }) });
    await clearQueue(t.storage);
    const mailer = nodemailer.createTransport({ host: "127.0.0.1", port: h.port, secure: false, tls: { rejectUnauthorized: false } });
    try {
      await mailer.sendMail({ from: "a@partner.example", to: "bob@example.com", subject: "hello", text: "hi" });
      await mailer.sendMail({ from: "c@other.example", to: "bob@example.com", subject: "plain", text: "hi" });
      await mailer.sendMail({ from: "c@other.example", to: "bob@example.com", subject: "drop me", text: "hi", headers: { "X-Drop": "yes" } });
      const refused = await mailer.sendMail({ from: "c@other.example", to: "bob@example.com", subject: "cheap spam", text: "hi" }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as { responseCode?: number }).responseCode).toBe(550);
      expect((refused as Error).message).toContain("no spam here");
    } finally {
      mailer.close();
    }
    const rows = await queryRows(
      t.storage.db,
      sql`SELECT m.id, r.address, m.rule_invocations, convert_from(b.content, 'UTF8') AS body
          FROM messages m JOIN recipients r ON r.message_id = m.id JOIN message_bodies b ON b.message_id = m.id ORDER BY m.id`,
    );
    expect(rows.map((r) => str(r.address))).toEqual(["boss@example.com", "bob@example.com"]);
    for (const r of rows) {
      expect(num(r.rule_invocations)).toBe(1);
      expect(str(r.body)).toContain("X-Scanned: mailcluster\r\nX-Member: fe-test\r\n");
    }
    expect(str(rows[0].body)).toContain("Subject: hello");
    expect(str(rows[1].body)).toContain("Subject: plain");
  });
});
