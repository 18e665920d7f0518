import { describe, expect, it } from "vitest";
import { engineRuleRunner, type RunnerInput } from "../../src/rules/backend-runner.ts";

const input = (accountRules: unknown, domainRules: unknown = null, headers: Record<string, string[]> = {}): RunnerInput => ({
  account: "bob@example.com",
  domain: "example.com",
  headers: new Map(Object.entries({ from: ["Alice <alice@example.org>"], subject: ["=?UTF-8?Q?Rechnung_M=C3=A4rz?="], ...headers })),
  envelope: { sender: "alice@example.org", recipient: "bob@example.com" },
  size: 2048,
  authenticated: false,
  domainRules,
  accountRules,
});

describe("engineRuleRunner (the backend's AccountRuleRunner)", () => {
  it("no rules: store in INBOX", () => {
    expect(engineRuleRunner().run(input(null))).toEqual([{ kind: "store", folder: "INBOX" }]);
  });

  it("maps every action into the backend's vocabulary, domain rules first, decoded headers", () => {
    const domain = { rules: [{ conditions: [{ field: "subject", op: "contains", value: "märz" }], actions: [{ type: "mark", flag: "seen" }] }] };
    const account = {
      rules: [
        {
          actions: [
            { type: "folder", folder: "Bills" },
            { type: "mark", flag: "flagged" },
            { type: "forward", to: ["copy@example.net"] },
            { type: "redirect", to: ["acct@example.net"] },
            { type: "vacation", text: "away", subject: "Away", days: 2 },
            { type: "add_header", name: "X-A", value: "b" },
            { type: "discard" },
          ],
        },
      ],
    };
    expect(engineRuleRunner().run(input(account, domain))).toEqual([
      { kind: "flags", flags: ["\\Seen"] },
      { kind: "store", folder: "Bills" },
      { kind: "flags", flags: ["\\Flagged"] },
      { kind: "forward", to: ["copy@example.net"] },
      { kind: "redirect", to: ["acct@example.net"] },
      { kind: "auto-reply", text: "away", subject: "Away", days: 2 },
      { kind: "add-header", name: "X-A", value: "b" },
      { kind: "discard" },
    ]);
  });

  it("reject carries its text (or a default) and its code when the rule names one", () => {
    expect(engineRuleRunner().run(input({ rules: [{ actions: [{ type: "reject", code: 554, text: "no" }] }] }))).toEqual([{ kind: "reject", code: 554, text: "no" }]);
    expect(engineRuleRunner().run(input({ rules: [{ actions: [{ type: "reject", text: "no" }] }] }))).toEqual([{ kind: "reject", text: "no" }]);
    expect(engineRuleRunner().run(input({ rules: [{ actions: [{ type: "reject" }] }] }))).toEqual([{ kind: "reject", text: "message rejected by the recipient's rules" }]);
  });

  it("a stored set that no longer validates is skipped and reported, never fatal", () => {
    const reported: string[] = [];
    const runner = engineRuleRunner({ onInvalid: (where, err) => reported.push(`${where}: ${err.message}`) });
    expect(runner.run(input({ rules: [{ actions: [{ type: "folder" }] }] }, { rules: [{ actions: [{ type: "discard" }] }] }))).toEqual([{ kind: "discard" }]);
    expect(reported).toEqual(["account bob@example.com: rules[0].actions[0].folder: must be a non-empty string"]);
  });
});
