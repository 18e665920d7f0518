/**
 * Rule engine benchmark: how much rules cost per message.
 *   1. evaluate() alone (headers parsed once) with rule sets of 0 / 10 / 50 / 200 rules;
 *   2. header parsing + evaluate from raw bytes (2 KiB and 100 KiB messages);
 *   3. the delivery pipeline's rule step per recipient, as a backend runs it: headers parsed
 *      from the raw message, engineRuleRunner() over the domain (5 rules) and account (20 rules)
 *      sets as the in-memory directory holds them, planActions() — the per-recipient cost a
 *      backend pays at delivery (the sets are validated on every run, as in production).
 *
 *   node --import tsx bench/rules/run.ts
 *
 * Needs no database. Prints figures.
 */
import { planActions } from "../../src/backend/account-rules.ts";
import { parseHeaders } from "../../src/util/headers.ts";
import { evaluate } from "../../src/rules/evaluate.ts";
import { messageFacts } from "../../src/rules/facts.ts";
import { engineRuleRunner } from "../../src/rules/backend-runner.ts";
import { EMPTY_RULE_SET, type RuleSet } from "../../src/rules/model.ts";
import { decideSubmission } from "../../src/rules/submission.ts";
import { validateRuleSet } from "../../src/rules/validate.ts";

function message(bodyBytes: number, i: number): Uint8Array {
  const headers = [
    `Received: from mx${i}.example.net by mx.example.com; Mon, 5 Jan 2026 10:00:00 +0000`,
    `From: Sender ${i} <sender${i % 97}@example.net>`,
    "To: Bob <bob@example.com>, team@example.com",
    `Subject: =?UTF-8?Q?Status_report_n=C2=B0${i}?=`,
    `Message-ID: <m${i}@example.net>`,
    "Date: Mon, 05 Jan 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
  ];
  return new TextEncoder().encode(`${headers.join("\r\n")}\r\n\r\n${"x".repeat(bodyBytes)}\r\n`);
}

/** n rules mixing every operator; none matches the benchmark messages, so every condition is evaluated. */
function ruleSet(n: number): RuleSet {
  const rules = Array.from({ length: n }, (_, i) => {
    switch (i % 5) {
      case 0:
        return { conditions: [{ field: "from", op: "is", value: `nobody${i}@example.org` }], actions: [{ type: "folder", folder: `F${i}` }] };
      case 1:
        return { conditions: [{ field: "subject", op: "contains", value: `never-${i}` }], actions: [{ type: "mark", flag: "seen" }] };
      case 2:
        return { conditions: [{ field: "to", op: "matches", value: `*@list${i}.example.org` }], actions: [{ type: "discard" }] };
      case 3:
        return { conditions: [{ field: "header", name: "X-Tag", op: "regex", value: `^tag-${i}\\b` }], actions: [{ type: "folder", folder: "T" }] };
      default:
        return { match: "all", conditions: [{ field: "size", op: "over", value: 50_000_000 }, { field: "authenticated", value: true }], actions: [{ type: "stop" }] };
    }
  });
  return validateRuleSet({ rules }, "account");
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString("en-US")}/s`;
}

console.log("rule engine benchmark");
console.log("---------------------");

const facts = messageFacts({ content: message(2048, 1), sender: "sender1@example.net", recipients: ["bob@example.com"], authenticated: false });
for (const n of [0, 10, 50, 200]) {
  const set = ruleSet(n);
  const N = Math.max(2000, Math.round(200_000 / Math.max(n, 1)));
  evaluate(set, facts);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) evaluate(set, facts);
  const ms = performance.now() - t0;
  console.log(`evaluate, ${String(n).padStart(3)} rules (headers pre-parsed): ${rate(N, ms).padStart(12)}  (${((ms * 1000) / N).toFixed(2)} µs/message)`);
}

const v0 = performance.now();
for (let i = 0; i < 1000; i++) ruleSet(50);
console.log(`validateRuleSet, 50 rules: ${((performance.now() - v0) / 1000).toFixed(3)} ms each`);

for (const size of [2048, 100 * 1024]) {
  const msgs = Array.from({ length: 200 }, (_, i) => message(size, i));
  const set = ruleSet(20);
  const N = 50_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const content = msgs[i % msgs.length];
    evaluate(set, messageFacts({ content, sender: "s@example.net", recipients: ["bob@example.com"], authenticated: false }));
  }
  const ms = performance.now() - t0;
  console.log(`parse headers + evaluate 20 rules, ${size / 1024} KiB messages: ${rate(N, ms)}`);
}

{
  // What the SMTP frontend pays per message at DATA: headers as it splits them, 20 submission rules.
  const submission = validateRuleSet(
    {
      rules: Array.from({ length: 20 }, (_, i) => ({
        conditions: [{ field: i % 2 ? "sender" : "subject", op: i % 3 ? "contains" : "matches", value: `*never-${i}*` }],
        actions: [{ type: "add_header", name: "X-Tag", value: String(i) }],
      })),
    },
    "submission",
  );
  const headerFields = [
    { name: "From", value: "Sender <s@example.net>" },
    { name: "To", value: "bob@example.com" },
    { name: "Subject", value: "=?UTF-8?Q?Status_report_n=C2=B01?=" },
    { name: "Message-ID", value: "<m1@example.net>" },
  ];
  const N = 50_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    decideSubmission([submission, EMPTY_RULE_SET], {
      envelope: { sender: "s@example.net", recipients: [{ address: "bob@example.com" }] },
      headers: headerFields,
      client: { authenticatedUser: null },
      sizeBytes: 2048,
    });
  }
  console.log(`decideSubmission, 20 rules (SMTP frontend, per message): ${rate(N, performance.now() - t0)}`);
}

{
  const runner = engineRuleRunner();
  const domainRules = ruleSet(5);
  const accountRules = ruleSet(20);
  const content = message(2048, 7);
  const N = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const account = `user${i % 50}@example.com`;
    planActions(
      runner.run({
        account,
        domain: "example.com",
        headers: parseHeaders(content),
        envelope: { sender: "s@example.net", recipient: account },
        size: content.byteLength,
        authenticated: false,
        domainRules,
        accountRules,
      }),
    );
  }
  const ms = performance.now() - t0;
  console.log(`delivery rule step (parse headers, engineRuleRunner domain 5 + account 20 rules, planActions): ${rate(N, ms)}  (${((ms * 1000) / N).toFixed(1)} µs/recipient)`);
}
