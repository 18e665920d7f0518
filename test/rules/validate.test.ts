import { describe, expect, it } from "vitest";
import { RuleSetError, validateRuleSet } from "../../src/rules/validate.ts";

function errorOf(input: unknown, scope: "account" | "domain" | "submission" = "account"): string {
  try {
    validateRuleSet(input, scope);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleSetError);
    return (err as RuleSetError).message;
  }
  throw new Error("expected the rule set to be refused");
}

const ok = { rules: [{ actions: [{ type: "folder", folder: "Lists" }] }] };

describe("validateRuleSet", () => {
  it("accepts a complete rule set and canonicalises addresses", () => {
    const set = validateRuleSet(
      {
        rules: [
          {
            name: "everything",
            match: "any",
            conditions: [
              { field: "from", op: "is", value: "a@example.org" },
              { field: "to", op: "contains", value: "team" },
              { field: "subject", op: "matches", value: "*[urgent]*" },
              { field: "header", name: "X-Spam-Flag", op: "regex", value: "^yes$", case_sensitive: true },
              { field: "header", name: "List-Id", op: "exists", not: true },
              { field: "sender", op: "is", value: "" },
              { field: "recipient", op: "contains", value: "+lists" },
              { field: "size", op: "over", value: 1000 },
              { field: "authenticated", value: true },
            ],
            actions: [
              { type: "folder", folder: "Work" },
              { type: "mark", flag: "flagged" },
              { type: "mark", flag: "seen" },
              { type: "redirect", to: ["Boss@Example.ORG"] },
              { type: "forward", to: ["archive@example.net"] },
              { type: "vacation", text: "away", subject: "Away", days: 3 },
              { type: "add_header", name: "X-Filed", value: "yes" },
              { type: "discard" },
              { type: "reject", text: "no thanks", code: 554 },
              { type: "stop" },
            ],
          },
        ],
      },
      "account",
    );
    const redirect = set.rules[0]?.actions[3];
    expect(redirect).toEqual({ type: "redirect", to: ["boss@example.org"] });
  });

  it("accepts an empty rule set", () => {
    expect(validateRuleSet({ rules: [] }, "domain")).toEqual({ rules: [] });
  });

  it.each<[string, unknown, string]>([
    ["not an object", "rules", "(rule set): must be an object"],
    ["missing rules", {}, "rules: must be a list of rules"],
    ["unknown top-level key", { rules: [], extra: 1 }, '(rule set): unknown key "extra"'],
    ["empty folder", { rules: [{ actions: [{ type: "folder", folder: "x" }] }, { actions: [{ type: "stop" }] }, { actions: [{ type: "folder", folder: "" }] }] }, "rules[2].actions[0].folder: must be a non-empty string"],
    ["folder not a string", { rules: [{ actions: [{ type: "folder", folder: 3 }] }] }, "rules[0].actions[0].folder: must be a non-empty string"],
    ["missing folder", { rules: [{ actions: [{ type: "folder" }] }] }, "rules[0].actions[0].folder: must be a non-empty string"],
    ["unknown action", { rules: [{ actions: [{ type: "explode" }] }] }, "rules[0].actions[0].type: must be one of: folder, discard, reject, redirect, forward, vacation, mark, add_header, stop"],
    ["unknown action key", { rules: [{ actions: [{ type: "discard", now: true }] }] }, 'rules[0].actions[0]: unknown key "now"'],
    ["no actions", { rules: [{ conditions: [] , actions: [] }] }, "rules[0].actions: must have at least one action"],
    ["unknown field", { rules: [{ conditions: [{ field: "body", op: "is", value: "x" }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].field: must be one of: from, to, subject, sender, recipient, header, size, authenticated"],
    ["bad operator", { rules: [{ conditions: [{ field: "from", op: "like", value: "x" }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].op: must be one of: is, contains, matches, regex, exists"],
    ["missing value", { rules: [{ conditions: [{ field: "subject", op: "contains" }], actions: [{ type: "discard" }] }] }, 'rules[0].conditions[0].value: is required with op "contains"'],
    ["value with exists", { rules: [{ conditions: [{ field: "header", name: "X-A", op: "exists", value: "x" }], actions: [{ type: "discard" }] }] }, 'rules[0].conditions[0].value: must be absent with op "exists"'],
    ["invalid regex", { rules: [{ actions: [{ type: "discard" }] }, { conditions: [{ field: "subject", op: "regex", value: "(unclosed" }], actions: [{ type: "discard" }] }] }, "rules[1].conditions[0].value: invalid regex:"],
    ["too long regex", { rules: [{ conditions: [{ field: "subject", op: "regex", value: "a".repeat(257) }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].value: regex must be at most 256 characters"],
    ["bad header name", { rules: [{ conditions: [{ field: "header", name: "X A:", op: "exists" }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].name: must be a header field name"],
    ["bad size", { rules: [{ conditions: [{ field: "size", op: "over", value: -1 }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].value: must not be negative"],
    ["bad size operator", { rules: [{ conditions: [{ field: "size", op: "is", value: 1 }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].op: must be one of: over, under"],
    ["authenticated not boolean", { rules: [{ conditions: [{ field: "authenticated", value: "yes" }], actions: [{ type: "discard" }] }] }, "rules[0].conditions[0].value: must be true or false"],
    ["bad match", { rules: [{ match: "some", actions: [{ type: "discard" }] }] }, "rules[0].match: must be one of: all, any"],
    ["bad redirect address", { rules: [{ actions: [{ type: "redirect", to: ["ok@example.org", "not an address"] }] }] }, 'rules[0].actions[0].to[1]: must be an address (local@domain): "not an address"'],
    ["empty redirect list", { rules: [{ actions: [{ type: "redirect", to: [] }] }] }, "rules[0].actions[0].to: must list at least one address"],
    ["forward list not a list", { rules: [{ actions: [{ type: "forward", to: "a@example.org" }] }] }, "rules[0].actions[0].to: must be a list of addresses"],
    ["vacation without text", { rules: [{ actions: [{ type: "vacation", days: 2 }] }] }, "rules[0].actions[0].text: must be a non-empty string"],
    ["vacation days out of range", { rules: [{ actions: [{ type: "vacation", text: "x", days: 0 }] }] }, "rules[0].actions[0].days: must be between 1 and 365"],
    ["reject code not permanent", { rules: [{ actions: [{ type: "reject", code: 450 }] }] }, "rules[0].actions[0].code: must be a permanent SMTP code between 550 and 554"],
    ["reject text with CRLF", { rules: [{ actions: [{ type: "reject", text: "a\r\nb" }] }] }, "rules[0].actions[0].text: must not contain line breaks or NUL"],
    ["mark unknown flag", { rules: [{ actions: [{ type: "mark", flag: "deleted" }] }] }, "rules[0].actions[0].flag: must be one of: flagged, seen"],
    ["header value with newline", { rules: [{ actions: [{ type: "add_header", name: "X-A", value: "a\nB: c" }] }] }, "rules[0].actions[0].value: must not contain line breaks or NUL"],
  ])("refuses %s with the path of the first error", (_label, input, message) => {
    expect(errorOf(input)).toContain(message);
  });

  it("refuses actions that make no sense at submission", () => {
    expect(errorOf(ok, "submission")).toBe('rules[0].actions[0].type: "folder" is not allowed in submission rules');
    expect(errorOf({ rules: [{ actions: [{ type: "vacation", text: "x" }] }] }, "submission")).toBe(
      'rules[0].actions[0].type: "vacation" is not allowed in submission rules',
    );
    expect(validateRuleSet({ rules: [{ actions: [{ type: "add_header", name: "X-Scanned", value: "yes" }, { type: "reject" }] }] }, "submission").rules).toHaveLength(1);
  });

  it("exposes path and reason separately for APIs", () => {
    try {
      validateRuleSet({ rules: [{ actions: [{ type: "folder", folder: "" }] }] }, "account");
      throw new Error("not refused");
    } catch (err) {
      expect(err).toBeInstanceOf(RuleSetError);
      expect((err as RuleSetError).path).toBe("rules[0].actions[0].folder");
      expect((err as RuleSetError).reason).toBe("must be a non-empty string");
    }
  });
});

describe("folder names", () => {
  it.each(["Lists/dev", "INBOX", "Ünïcode folder"])("accepts %s", (folder) => {
    expect(validateRuleSet({ rules: [{ actions: [{ type: "folder", folder }] }] }, "account").rules).toHaveLength(1);
  });
  it.each(["a*", "100%", " padded", "a//b", "/root", "tab\there", "line\nbreak"])("refuses %j", (folder) => {
    expect(errorOf({ rules: [{ actions: [{ type: "folder", folder }] }] })).toContain("rules[0].actions[0].folder: must be a folder name");
  });
});
