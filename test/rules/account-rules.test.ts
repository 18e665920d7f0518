import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain, AccountError } from "../../src/accounts/store.ts";
import type { Db } from "../../src/db/db.ts";
import { runAccountRules } from "../../src/rules/index.ts";
import { getAccountRules, getDomainRules, setAccountRules, setDomainRules } from "../../src/rules/store.ts";
import { RuleSetError } from "../../src/rules/validate.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { baseHeaders, rawMessage } from "./fixtures.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("runAccountRules (real PostgreSQL)", () => {
  let t: TestDatabase;
  let db: Db;
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  let n = 0;
  const account = () => `user${++n}@example.com`;

  async function withRules(rules: unknown[], domainRules?: unknown[]): Promise<string> {
    const a = account();
    await addAccount(db, { address: a });
    await setAccountRules(db, a, { rules });
    if (domainRules) await setDomainRules(db, "example.com", { rules: domainRules });
    return a;
  }

  const deliver = (a: string, headers: Record<string, string> = baseHeaders, sender = "alice@example.org", authenticated = false) =>
    runAccountRules(db, { account: a, content: rawMessage(headers), envelope: { sender }, authenticated, now: clock.now() });

  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.storage.db;
    await addDomain(db, "example.com");
  });
  afterAll(async () => {
    await t.drop();
  });

  it("without rules: INBOX, content unchanged, nothing generated", async () => {
    const a = account();
    await addAccount(db, { address: a });
    const content = rawMessage(baseHeaders);
    const r = await runAccountRules(db, { account: a, content, envelope: { sender: "alice@example.org" }, authenticated: false, now: clock.now() });
    expect(r).toMatchObject({ reject: null, folders: ["INBOX"], flags: [], outgoing: [], skipped: [] });
    expect(r.content).toBe(content);
  });

  it("files into a folder with flags and added headers", async () => {
    const a = await withRules([
      {
        conditions: [{ field: "subject", op: "contains", value: "report" }],
        actions: [{ type: "folder", folder: "Reports" }, { type: "mark", flag: "flagged" }, { type: "mark", flag: "seen" }, { type: "add_header", name: "X-Filed", value: "reports" }],
      },
    ]);
    const r = await deliver(a);
    expect(r.folders).toEqual(["Reports"]);
    expect(r.flags).toEqual(["\\Flagged", "\\Seen"]);
    expect(text(r.content).startsWith("X-Filed: reports\r\nFrom: Alice")).toBe(true);
  });

  it("discard stores nothing", async () => {
    const a = await withRules([{ conditions: [{ field: "from", op: "matches", value: "*@example.org" }], actions: [{ type: "discard" }] }]);
    const r = await deliver(a);
    expect(r.folders).toEqual([]);
    expect(r.reject).toBeNull();
  });

  it("reject answers 5xx with the rule's text and nothing else happens", async () => {
    const a = await withRules([{ actions: [{ type: "forward", to: ["x@example.net"] }] }, { conditions: [{ field: "authenticated", value: false }], actions: [{ type: "reject", text: "not from strangers" }] }]);
    const r = await deliver(a);
    expect(r.reject).toEqual({ code: 550, enhanced: "5.7.1", text: "not from strangers" });
    expect(r.folders).toEqual([]);
    expect(r.outgoing).toEqual([]);
    const trusted = await deliver(a, baseHeaders, "alice@example.org", true);
    expect(trusted.reject).toBeNull();
    expect(trusted.outgoing).toHaveLength(1);
  });

  it("domain rules run first and their stop skips the account rules", async () => {
    const a = await withRules(
      [{ actions: [{ type: "folder", folder: "Mine" }] }],
      [{ conditions: [{ field: "header", name: "X-Spam-Flag", op: "is", value: "YES" }], actions: [{ type: "folder", folder: "Junk" }, { type: "stop" }] }],
    );
    expect((await deliver(a, { ...baseHeaders, "X-Spam-Flag": "YES" })).folders).toEqual(["Junk"]);
    expect((await deliver(a)).folders).toEqual(["Mine"]);
    await setDomainRules(db, "example.com", { rules: [] });
  });

  it("redirect: original unchanged under Resent-* and loop headers, envelope sender kept, not stored", async () => {
    const a = await withRules([{ actions: [{ type: "redirect", to: ["boss@example.net", "Deputy@Example.NET"] }] }]);
    const content = rawMessage(baseHeaders);
    const r = await runAccountRules(db, { account: a, content, envelope: { sender: "alice@example.org" }, authenticated: false, now: clock.now() });
    expect(r.folders).toEqual([]);
    expect(r.outgoing).toHaveLength(1);
    const out = r.outgoing[0]!;
    expect(out.kind).toBe("redirect");
    expect(out.envelope).toEqual({ sender: "alice@example.org", recipients: [{ address: "boss@example.net" }, { address: "deputy@example.net" }] });
    const body = text(out.content);
    expect(body.endsWith(text(content))).toBe(true);
    expect(body).toContain(`X-Mailcluster-Loop: ${a}\r\n`);
    expect(body).toContain("Resent-To: <boss@example.net>, <deputy@example.net>\r\n");
    expect(body).toContain("Resent-Date: Sun, 01 Mar 2026 00:00:00 +0000\r\n");
  });

  it("loop protection: a message this account already redirected is kept, not redirected again", async () => {
    const a = await withRules([{ actions: [{ type: "redirect", to: ["boss@example.net"] }] }]);
    const first = await deliver(a);
    const again = await runAccountRules(db, { account: a, content: first.outgoing[0]!.content, envelope: { sender: "alice@example.org" }, authenticated: false, now: clock.now() });
    expect(again.outgoing).toEqual([]);
    expect(again.folders).toEqual(["INBOX"]);
    expect(again.skipped[0]).toContain(`already redirected by ${a}`);
    // Twenty generations through other accounts count as a loop whoever they were.
    const chain = Array.from({ length: 20 }, (_, i) => `hop${i}@example.org`).join(", ");
    expect((await deliver(a, { ...baseHeaders, "X-Mailcluster-Loop": chain })).outgoing).toEqual([]);
    // The backend's own resend marker counts too.
    const marked = await deliver(a, { ...baseHeaders, "X-Mailcluster-Redirected-By": a });
    expect(marked.outgoing).toEqual([]);
    // Someone else's redirect is no loop for this account.
    const other = await deliver(a, { ...baseHeaders, "X-Mailcluster-Loop": "someone@example.org" });
    expect(other.outgoing).toHaveLength(1);
  });

  it("forward a copy: stored as well, the copy wraps the original and carries the loop chain", async () => {
    const a = await withRules([{ actions: [{ type: "forward", to: ["copy@example.net"] }] }]);
    const r = await deliver(a, { ...baseHeaders, "X-Mailcluster-Loop": "first@example.org" });
    expect(r.folders).toEqual(["INBOX"]);
    const out = r.outgoing[0]!;
    expect(out.kind).toBe("forward");
    expect(out.envelope).toEqual({ sender: a, recipients: [{ address: "copy@example.net" }] });
    const parsed = await simpleParser(Buffer.from(out.content));
    expect(parsed.subject).toBe("Fwd: Quarterly report");
    expect(parsed.headers.get("auto-submitted")).toBe("auto-generated");
    expect(parsed.headers.get("x-mailcluster-loop")).toBe(`first@example.org, ${a}`);
    expect(parsed.attachments[0]?.contentType).toBe("message/rfc822");
    expect(parsed.attachments[0]?.content.toString()).toContain("Subject: Quarterly report");
    // The copy coming back to the same account is not forwarded again.
    const back = await runAccountRules(db, { account: a, content: out.content, envelope: { sender: a }, authenticated: false, now: clock.now() });
    expect(back.outgoing).toEqual([]);
    expect(back.folders).toEqual(["INBOX"]);
  });

  it("vacation: once per sender per N days, never to the null sender or list mail", async () => {
    const a = await withRules([{ actions: [{ type: "vacation", text: "Away until April.", days: 2 }] }]);
    const first = await deliver(a);
    expect(first.folders).toEqual(["INBOX"]);
    expect(first.outgoing.map((m) => m.kind)).toEqual(["auto-reply"]);
    const parsed = await simpleParser(Buffer.from(first.outgoing[0]!.content));
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : null).toBe("alice@example.org");
    expect(parsed.headers.get("auto-submitted")).toBe("auto-replied");

    const second = await deliver(a);
    expect(second.outgoing).toEqual([]);
    expect(second.skipped).toEqual(["vacation: already answered within 2 days"]);
    expect((await deliver(a, baseHeaders, "")).skipped).toEqual(["vacation: null sender"]);
    expect((await deliver(a, { ...baseHeaders, "List-Id": "<l.example.org>" }, "carol@example.org")).skipped).toEqual(["vacation: mailing list message"]);
    expect((await deliver(a, { ...baseHeaders, "Auto-Submitted": "auto-replied" }, "dave@example.org")).skipped).toEqual(["vacation: auto-submitted message"]);
    clock.advance(2 * 24 * 3600 * 1000);
    expect((await deliver(a)).outgoing).toHaveLength(1);
  });

  it("size and authenticated conditions reach the engine", async () => {
    const a = await withRules([
      { conditions: [{ field: "size", op: "over", value: 10_000 }], actions: [{ type: "folder", folder: "Big" }] },
      { conditions: [{ field: "authenticated", value: true }], actions: [{ type: "mark", flag: "seen" }] },
    ]);
    const big = await runAccountRules(db, { account: a, content: rawMessage(baseHeaders, "x".repeat(20_000)), envelope: { sender: "alice@example.org" }, authenticated: true, now: clock.now() });
    expect(big.folders).toEqual(["Big"]);
    expect(big.flags).toEqual(["\\Seen"]);
    expect((await deliver(a)).folders).toEqual(["INBOX"]);
  });
});

describe("stored rule sets", () => {
  let t: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.storage.db;
    await addDomain(db, "example.com");
    await addAccount(db, { address: "bob@example.com" });
  });
  afterAll(async () => {
    await t.drop();
  });

  it("an invalid rule set is refused with its path and the old one stays", async () => {
    const good = { rules: [{ actions: [{ type: "folder", folder: "Kept" }] }] };
    await setAccountRules(db, "Bob@Example.com", good);
    await expect(setAccountRules(db, "bob@example.com", { rules: [{ actions: [{ type: "folder", folder: "" }] }] })).rejects.toThrow(
      new RuleSetError("rules[0].actions[0].folder", "must be a non-empty string"),
    );
    expect(await getAccountRules(db, "bob@example.com")).toEqual(good);
    await setDomainRules(db, "example.com", good);
    await expect(setDomainRules(db, "example.com", { rules: [{ actions: [{ type: "redirect", to: ["nope"] }] }] })).rejects.toBeInstanceOf(RuleSetError);
    expect(await getDomainRules(db, "example.com")).toEqual(good);
  });

  it("unknown accounts and domains are 404s and nothing is written", async () => {
    const err = await setAccountRules(db, "nobody@example.com", { rules: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccountError);
    expect((err as AccountError).status).toBe(404);
    await expect(getDomainRules(db, "example.net")).rejects.toBeInstanceOf(AccountError);
  });

  it("an account without rules reads as the empty rule set", async () => {
    await addAccount(db, { address: "new@example.com" });
    expect(await getAccountRules(db, "new@example.com")).toEqual({ rules: [] });
  });
});
