import { describe, expect, it } from "vitest";
import { hasNestedQuantifier } from "../../src/rules/regex-safety.ts";
import { RuleSetError, validateRuleSet } from "../../src/rules/validate.ts";

describe("hasNestedQuantifier", () => {
  it.each(["(a+)+", "(a*)*", "(\\w+\\s?)*$", "((a+)b)*", "(a{2,})+", "(?:x+y?)+", "(?<n>a+){3,}", "(a+)+?"])("refuses %s", (p) => {
    expect(hasNestedQuantifier(p)).toBe(true);
  });
  it.each(["a+b*", "(a|b)+", "\\d+-\\d+", "(?:ab)+", "[(+]+", "(a{2,3})+", "(a+)", "(a+)?", "\\(a+\\)+", "^(re|fwd):\\s*", "[a-z)]+(x)*"])("accepts %s", (p) => {
    expect(hasNestedQuantifier(p)).toBe(false);
  });

  it("the validator refuses such a regex with its path", () => {
    const input = { rules: [{ conditions: [{ field: "subject", op: "regex", value: "^(\\w+\\s?)*$" }], actions: [{ type: "discard" }] }] };
    expect(() => validateRuleSet(input, "account")).toThrow(RuleSetError);
    expect(() => validateRuleSet(input, "account")).toThrow(/^rules\[0\]\.conditions\[0\]\.value: regex has a quantified group/);
  });
});
