import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/rules/evaluate.ts";
import { MessageHeaders } from "../../src/rules/headers.ts";
import type { Action, Condition } from "../../src/rules/model.ts";
import { validateRuleSet } from "../../src/rules/validate.ts";
import { baseHeaders, facts, rawMessage } from "./fixtures.ts";

const FILED: Action = { type: "folder", folder: "Filed" };
const INBOX: Action = { type: "folder", folder: "INBOX" };

/** Does this one condition file the message? Goes through the validator like stored rules do. */
function holds(condition: Record<string, unknown>, f = facts()): boolean {
  const set = validateRuleSet({ rules: [{ conditions: [condition], actions: [FILED] }] }, "account");
  const actions = evaluate(set, f);
  return actions.some((a) => a.type === "folder" && a.folder === "Filed");
}

describe("conditions", () => {
  it("from: is compares addresses, case-insensitively; contains sees the display name", () => {
    expect(holds({ field: "from", op: "is", value: "ALICE@example.org" })).toBe(true);
    expect(holds({ field: "from", op: "is", value: "alice@example.net" })).toBe(false);
    expect(holds({ field: "from", op: "contains", value: "Alice Example" })).toBe(true);
    expect(holds({ field: "from", op: "is", value: "ALICE@example.org", case_sensitive: true })).toBe(false);
  });

  it("to: looks at To and Cc", () => {
    const f = facts({ ...baseHeaders, Cc: "Team <team@lists.example.com>, carol@example.com" });
    expect(holds({ field: "to", op: "is", value: "carol@example.com" }, f)).toBe(true);
    expect(holds({ field: "to", op: "is", value: "bob@example.com" }, f)).toBe(true);
    expect(holds({ field: "to", op: "matches", value: "*@lists.example.com" }, f)).toBe(true);
    expect(holds({ field: "to", op: "is", value: "dave@example.com" }, f)).toBe(false);
  });

  it("subject: is / contains / matches / regex, and RFC 2047 words are decoded", () => {
    expect(holds({ field: "subject", op: "is", value: "quarterly report" })).toBe(true);
    expect(holds({ field: "subject", op: "is", value: "quarterly" })).toBe(false);
    expect(holds({ field: "subject", op: "contains", value: "REPORT" })).toBe(true);
    expect(holds({ field: "subject", op: "matches", value: "Q*t" })).toBe(true);
    expect(holds({ field: "subject", op: "matches", value: "Q?arterly*" })).toBe(true);
    expect(holds({ field: "subject", op: "matches", value: "report*" })).toBe(false);
    expect(holds({ field: "subject", op: "regex", value: "^quarterly\\s+rep" })).toBe(true);
    expect(holds({ field: "subject", op: "regex", value: "^Quarterly", case_sensitive: true })).toBe(true);
    expect(holds({ field: "subject", op: "regex", value: "^quarterly", case_sensitive: true })).toBe(false);
    const encoded = facts({ ...baseHeaders, Subject: "=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=" });
    expect(holds({ field: "subject", op: "is", value: "überweisung" }, encoded)).toBe(true);
  });

  it("glob metacharacters other than * and ? are literal", () => {
    const f = facts({ ...baseHeaders, Subject: "[dev] a.b (c)" });
    expect(holds({ field: "subject", op: "matches", value: "[dev] a.b (c)" }, f)).toBe(true);
    expect(holds({ field: "subject", op: "matches", value: "[dev] a?b*" }, f)).toBe(true);
    expect(holds({ field: "subject", op: "matches", value: "[dev] a.b (c" }, f)).toBe(false);
  });

  it("any header by name, folded lines unfolded, every occurrence considered; exists", () => {
    const f = facts({ ...baseHeaders, "X-Spam-Status": "Yes,\r\n\tscore=7.1", Received: ["from a", "from b"] });
    expect(holds({ field: "header", name: "x-spam-status", op: "is", value: "Yes, score=7.1" }, f)).toBe(true);
    expect(holds({ field: "header", name: "Received", op: "is", value: "from b" }, f)).toBe(true);
    expect(holds({ field: "header", name: "X-Spam-Status", op: "exists" }, f)).toBe(true);
    expect(holds({ field: "header", name: "List-Id", op: "exists" }, f)).toBe(false);
    expect(holds({ field: "header", name: "List-Id", op: "contains", value: "x" }, f)).toBe(false);
  });

  it("size over / under", () => {
    const big = facts(baseHeaders, { body: "x".repeat(5000) });
    expect(holds({ field: "size", op: "over", value: 4000 }, big)).toBe(true);
    expect(holds({ field: "size", op: "under", value: 4000 }, big)).toBe(false);
    expect(holds({ field: "size", op: "under", value: 4000 })).toBe(true);
  });

  it("sender authenticated", () => {
    expect(holds({ field: "authenticated", value: true }, facts(baseHeaders, { authenticated: true }))).toBe(true);
    expect(holds({ field: "authenticated", value: true })).toBe(false);
    expect(holds({ field: "authenticated", value: false })).toBe(true);
  });

  it("envelope sender and recipient; the null sender does not exist", () => {
    expect(holds({ field: "sender", op: "is", value: "alice@example.org" })).toBe(true);
    expect(holds({ field: "sender", op: "exists" }, facts(baseHeaders, { sender: "" }))).toBe(false);
    expect(holds({ field: "recipient", op: "matches", value: "bob@*" })).toBe(true);
  });

  it("negation", () => {
    expect(holds({ field: "subject", op: "contains", value: "report", not: true })).toBe(false);
    expect(holds({ field: "header", name: "List-Id", op: "exists", not: true })).toBe(true);
    expect(holds({ field: "size", op: "over", value: 1, not: true })).toBe(false);
  });

  it("all / any combination", () => {
    const yes: Condition = { field: "subject", op: "contains", value: "report" };
    const no: Condition = { field: "subject", op: "contains", value: "invoice" };
    const run = (match: "all" | "any", conditions: Condition[]) =>
      evaluate(validateRuleSet({ rules: [{ match, conditions, actions: [FILED] }] }, "account"), facts());
    expect(run("all", [yes, no])).toEqual([INBOX]);
    expect(run("all", [yes, yes])).toEqual([FILED]);
    expect(run("any", [no, yes])).toEqual([FILED]);
    expect(run("any", [no, no])).toEqual([INBOX]);
  });

  it("a huge header value cannot make a regex run away: matching sees a bounded prefix", () => {
    const f = facts({ ...baseHeaders, Subject: `${"a".repeat(50_000)}END` });
    expect(holds({ field: "subject", op: "regex", value: "END$" }, f)).toBe(false);
    expect(holds({ field: "subject", op: "regex", value: "^a+" }, f)).toBe(true);
  });
});

describe("evaluate", () => {
  const set = (rules: unknown[]) => validateRuleSet({ rules }, "account");

  it("stores in INBOX when nothing matches", () => {
    expect(evaluate(set([]), facts())).toEqual([INBOX]);
    expect(evaluate(set([{ conditions: [{ field: "subject", op: "is", value: "x" }], actions: [FILED] }]), facts())).toEqual([INBOX]);
  });

  it("collects actions of every matching rule, in order, until stop", () => {
    const actions = evaluate(
      set([
        { actions: [{ type: "mark", flag: "seen" }] },
        { actions: [FILED, { type: "stop" }, { type: "mark", flag: "flagged" }] },
        { actions: [{ type: "folder", folder: "Never" }] },
      ]),
      facts(),
    );
    expect(actions).toEqual([{ type: "mark", flag: "seen" }, FILED]);
  });

  it("keeps INBOX implicitly beside side actions (flag, forward, vacation, add_header)", () => {
    const actions = evaluate(
      set([
        {
          actions: [
            { type: "mark", flag: "flagged" },
            { type: "forward", to: ["copy@example.net"] },
            { type: "vacation", text: "away" },
            { type: "add_header", name: "X-Seen-By", value: "rules" },
          ],
        },
      ]),
      facts(),
    );
    expect(actions.map((a) => a.type)).toEqual(["mark", "forward", "vacation", "add_header", "folder"]);
    expect(actions.at(-1)).toEqual(INBOX);
  });

  it("discard and redirect cancel the implicit keep; an explicit folder beside them still stores", () => {
    expect(evaluate(set([{ actions: [{ type: "discard" }] }]), facts())).toEqual([{ type: "discard" }]);
    expect(evaluate(set([{ actions: [{ type: "redirect", to: ["x@example.net"] }] }]), facts())).toEqual([{ type: "redirect", to: ["x@example.net"] }]);
    expect(evaluate(set([{ actions: [{ type: "redirect", to: ["x@example.net"] }, INBOX] }]), facts())).toEqual([
      { type: "redirect", to: ["x@example.net"] },
      INBOX,
    ]);
  });

  it("reject ends evaluation and is the only action", () => {
    const actions = evaluate(
      set([{ actions: [FILED, { type: "forward", to: ["a@example.net"] }] }, { actions: [{ type: "reject", text: "go away" }] }, { actions: [{ type: "discard" }] }]),
      facts(),
    );
    expect(actions).toEqual([{ type: "reject", text: "go away" }]);
  });

  it("repeated folder and mark actions appear once", () => {
    const actions = evaluate(set([{ actions: [FILED, { type: "mark", flag: "seen" }] }, { actions: [FILED, { type: "mark", flag: "seen" }] }]), facts());
    expect(actions).toEqual([FILED, { type: "mark", flag: "seen" }]);
  });

  it("runs several sets in order (domain first) and stop in the first skips the second", () => {
    const domain = set([{ conditions: [{ field: "subject", op: "contains", value: "report" }], actions: [{ type: "folder", folder: "Reports" }] }]);
    const account = set([{ actions: [FILED] }]);
    expect(evaluate([domain, account], facts())).toEqual([{ type: "folder", folder: "Reports" }, FILED]);
    const stopping = set([{ actions: [{ type: "mark", flag: "seen" }, { type: "stop" }] }]);
    expect(evaluate([stopping, account], facts())).toEqual([{ type: "mark", flag: "seen" }, INBOX]);
  });

  it("without implicit keep (submission) nothing is added", () => {
    expect(evaluate(set([]), facts(), { implicitKeep: false })).toEqual([]);
  });
});

describe("MessageHeaders", () => {
  it("reads only the header block, LF or CRLF", () => {
    const lf = new TextEncoder().encode("Subject: one\nX-A: 1\n\nSubject: body line\n");
    const h = MessageHeaders.parse(lf);
    expect(h.all("subject")).toEqual(["one"]);
    expect(h.first("x-a")).toBe("1");
    const crlf = MessageHeaders.parse(rawMessage({ Subject: "two" }, "Subject: not a header\r\n"));
    expect(crlf.all("Subject")).toEqual(["two"]);
  });

  it("decodes encoded words in other charsets and keeps broken ones as written", () => {
    const h = MessageHeaders.parse(rawMessage({ Subject: "=?ISO-8859-1?Q?Caf=E9?= au lait", "X-Broken": "=?nonsense?X?abc?=" }));
    expect(h.first("subject")).toBe("Café au lait");
    expect(h.first("x-broken")).toContain("abc");
  });

  it("a message without a body or with garbage lines still parses", () => {
    const h = MessageHeaders.parse(new TextEncoder().encode("garbage line\r\nSubject: s\r\n"));
    expect(h.all("subject")).toEqual(["s"]);
    expect(h.names()).toEqual(["subject"]);
  });
});
