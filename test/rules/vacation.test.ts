import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import type { Db } from "../../src/db/db.ts";
import { MessageHeaders } from "../../src/rules/headers.ts";
import { autoReplySuppression, claimAutoReply, composeAutoReply, decideVacation } from "../../src/rules/vacation.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { baseHeaders, rawMessage } from "./fixtures.ts";

const DAY = 24 * 3600 * 1000;
const headers = (extra: Record<string, string> = {}) => MessageHeaders.parse(rawMessage({ ...baseHeaders, ...extra }));

describe("auto-reply suppression (RFC 3834)", () => {
  it.each<[string, string, Record<string, string>]>([
    ["null sender", "", {}],
    ["MAILER-DAEMON", "MAILER-DAEMON@example.org", {}],
    ["owner-*", "owner-dev@lists.example.org", {}],
    ["*-request", "dev-request@lists.example.org", {}],
    ["List-Id", "alice@example.org", { "List-Id": "<dev.lists.example.org>" }],
    ["List-Unsubscribe", "alice@example.org", { "List-Unsubscribe": "<mailto:leave@example.org>" }],
    ["Precedence: bulk", "alice@example.org", { Precedence: "bulk" }],
    ["Precedence: list", "alice@example.org", { Precedence: "List" }],
    ["Precedence: junk", "alice@example.org", { Precedence: "junk" }],
    ["Auto-Submitted: auto-replied", "alice@example.org", { "Auto-Submitted": "auto-replied" }],
    ["Auto-Submitted: auto-generated", "alice@example.org", { "Auto-Submitted": "auto-generated" }],
    ["mail a rule generated", "alice@example.org", { "X-Mailcluster-Loop": "carol@example.com" }],
  ])("never answers: %s", (_label, sender, extra) => {
    expect(autoReplySuppression(sender, headers(extra))).not.toBeNull();
  });

  it("answers ordinary mail, also Auto-Submitted: no", () => {
    expect(autoReplySuppression("alice@example.org", headers())).toBeNull();
    expect(autoReplySuppression("alice@example.org", headers({ "Auto-Submitted": "no" }))).toBeNull();
    expect(autoReplySuppression("alice@example.org", headers({ Precedence: "first-class" }))).toBeNull();
  });
});

describe("vacation memory (real PostgreSQL)", () => {
  let t: TestDatabase;
  let db: Db;
  const account = "bob@example.com";

  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.storage.db;
    await addDomain(db, "example.com");
    await addAccount(db, { address: account });
  });
  afterAll(async () => {
    await t.drop();
  });

  it("answers a sender at most once per N days", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const decide = () => decideVacation(db, { account, sender: "alice@example.org", headers: headers(), days: 3, now: clock.now() });
    expect(await decide()).toEqual({ reply: true });
    expect(await decide()).toEqual({ reply: false, reason: "already answered within 3 days" });
    clock.advance(3 * DAY - 1000);
    expect((await decide()).reply).toBe(false);
    clock.advance(1000);
    expect(await decide()).toEqual({ reply: true });
    clock.advance(DAY);
    expect((await decide()).reply).toBe(false);
  });

  it("keeps one memory per sender, senders compared case-insensitively", async () => {
    const now = new Date(Date.UTC(2026, 6, 1));
    expect(await claimAutoReply(db, account, "Dave@Example.net", 7, now)).toBe(true);
    expect(await claimAutoReply(db, account, "dave@example.net", 7, now)).toBe(false);
    expect(await claimAutoReply(db, account, "erin@example.net", 7, now)).toBe(true);
  });

  it("suppressed messages do not touch the memory", async () => {
    const now = new Date(Date.UTC(2026, 7, 1));
    const listMail = await decideVacation(db, { account, sender: "frank@example.org", headers: headers({ "List-Id": "x" }), days: 7, now });
    expect(listMail).toEqual({ reply: false, reason: "mailing list message" });
    expect(await claimAutoReply(db, account, "frank@example.org", 7, now)).toBe(true);
  });

  it("two backends deciding at the same moment: exactly one replies", async () => {
    const other = t.open(4);
    try {
      const now = new Date(Date.UTC(2026, 8, 1));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => claimAutoReply(i % 2 ? other.db : db, account, "grace@example.org", 7, now)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe("composeAutoReply", () => {
  it("builds an RFC 3834 reply that mailparser reads back", async () => {
    const original = headers({ References: "<r0@example.org>", Subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=" });
    const mail = await composeAutoReply({
      account: "bob@example.com",
      to: "alice@example.org",
      headers: original,
      text: "I am away until Monday.",
      now: new Date(Date.UTC(2026, 0, 5, 12)),
    });
    expect(mail.kind).toBe("auto-reply");
    expect(mail.envelope).toEqual({ sender: "", recipients: [{ address: "alice@example.org" }] });
    const parsed = await simpleParser(Buffer.from(mail.content));
    expect(parsed.headers.get("auto-submitted")).toBe("auto-replied");
    expect(parsed.subject).toBe("Auto: Grüße");
    expect(parsed.inReplyTo).toBe("<m1@example.org>");
    expect(parsed.references).toEqual(["<r0@example.org>", "<m1@example.org>"]);
    expect(parsed.from?.value[0]?.address).toBe("bob@example.com");
    expect(parsed.text?.trim()).toBe("I am away until Monday.");
    expect(parsed.date?.toISOString()).toBe("2026-01-05T12:00:00.000Z");
    expect(parsed.messageId).toMatch(/^<.+@example\.com>$/);
  });

  it("uses the configured subject when given", async () => {
    const mail = await composeAutoReply({ account: "bob@example.com", to: "a@example.org", headers: headers(), text: "x", subject: "Out of office", now: new Date() });
    const parsed = await simpleParser(Buffer.from(mail.content));
    expect(parsed.subject).toBe("Out of office");
  });
});
