import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain, AccountError } from "../../src/accounts/store.ts";
import type { Db } from "../../src/db/db.ts";
import { isLooping } from "../../src/rules/loop.ts";
import { composeForward, composeRedirect } from "../../src/rules/redirect.ts";
import { getAccountRules, getDomainRules, setAccountRules, setDomainRules } from "../../src/rules/store.ts";
import { RuleSetError } from "../../src/rules/validate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { baseHeaders, facts, rawMessage } from "./fixtures.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// The rules as delivery applies them (stored rule sets → engineRuleRunner → planActions →
// BackendDelivery) are tested end to end in test/backend/account-rules.test.ts; here, the
// pieces that path composes with.

describe("loop protection (isLooping)", () => {
  const a = "bob@example.com";
  const looping = (headers: Record<string, string>) => isLooping(facts({ ...baseHeaders, ...headers }).headers, a);

  it("a message naming this account in either loop header is looping; someone else's redirect is not", () => {
    expect(looping({})).toBe(false);
    expect(looping({ "X-Mailcluster-Loop": "Bob@Example.com" })).toBe(true);
    expect(looping({ "X-Mailcluster-Redirected-By": a })).toBe(true);
    expect(looping({ "X-Mailcluster-Loop": "someone@example.org" })).toBe(false);
  });

  it("twenty generations through other accounts count as a loop whoever they were", () => {
    expect(looping({ "X-Mailcluster-Loop": Array.from({ length: 20 }, (_, i) => `hop${i}@example.org`).join(", ") })).toBe(true);
    expect(looping({ "X-Mailcluster-Loop": Array.from({ length: 19 }, (_, i) => `hop${i}@example.org`).join(", ") })).toBe(false);
  });
});

describe("composeRedirect / composeForward", () => {
  const now = new Date(Date.UTC(2026, 2, 1));

  it("redirect: original unchanged under Resent-* and loop headers, envelope sender kept", () => {
    const content = rawMessage(baseHeaders);
    const out = composeRedirect({ account: "bob@example.com", content, sender: "alice@example.org", to: ["boss@example.net", "deputy@example.net"], now });
    expect(out.kind).toBe("redirect");
    expect(out.envelope).toEqual({ sender: "alice@example.org", recipients: [{ address: "boss@example.net" }, { address: "deputy@example.net" }] });
    const body = text(out.content);
    expect(body.endsWith(text(content))).toBe(true);
    expect(body).toContain("X-Mailcluster-Loop: bob@example.com\r\n");
    expect(body).toContain("Resent-To: <boss@example.net>, <deputy@example.net>\r\n");
    expect(body).toContain("Resent-Date: Sun, 01 Mar 2026 00:00:00 +0000\r\n");
  });

  it("forward: the copy wraps the original and carries the loop chain", async () => {
    const f = facts({ ...baseHeaders, "X-Mailcluster-Loop": "first@example.org" });
    const out = await composeForward({ account: "bob@example.com", content: rawMessage(baseHeaders), headers: f.headers, to: ["copy@example.net"], now });
    expect(out.envelope).toEqual({ sender: "bob@example.com", recipients: [{ address: "copy@example.net" }] });
    const parsed = await simpleParser(Buffer.from(out.content));
    expect(parsed.subject).toBe("Fwd: Quarterly report");
    expect(parsed.headers.get("auto-submitted")).toBe("auto-generated");
    expect(parsed.headers.get("x-mailcluster-loop")).toBe("first@example.org, bob@example.com");
    expect(parsed.attachments[0]?.contentType).toBe("message/rfc822");
    expect(parsed.attachments[0]?.content.toString()).toContain("Subject: Quarterly report");
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
