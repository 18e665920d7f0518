import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import type { RuleSet } from "../../rules/model.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult } from "../output-admin.ts";

/** Where a rule set lives: an account, a domain, or a submission scope ("cluster", "member:NAME"). */
export type RulesTarget = { kind: "account"; address: string } | { kind: "domain"; domain: string } | { kind: "submission"; scope: string };

export class RulesFileError extends Error {
  override name = "RulesFileError";
}

/** The JSON document in FILE ("-" = standard input), or a precise error naming the file. */
export async function readRulesFile(file: string, stdin: AsyncIterable<string | Uint8Array> = process.stdin): Promise<unknown> {
  let text: string;
  if (file === "-") {
    const decoder = new TextDecoder();
    text = "";
    for await (const chunk of stdin) text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  } else {
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new RulesFileError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RulesFileError(`${file === "-" ? "standard input" : file} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function describeTarget(t: RulesTarget): string {
  if (t.kind === "account") return `account ${t.address.toLowerCase()}`;
  if (t.kind === "domain") return `domain ${t.domain.toLowerCase()}`;
  return t.scope === "cluster" ? "cluster-wide rules" : `server-wide rules of ${t.scope.slice("member:".length)}`;
}

// The rules store (validator included) loads when a rules command runs, not with every command.
const store = () => import("../../rules/store.ts");

export async function showRules(db: Executor, target: RulesTarget, out?: Out): Promise<RuleSet> {
  const { getAccountRules, getDomainRules, getSubmissionRules, parseSubmissionScope } = await store();
  const set =
    target.kind === "account"
      ? await getAccountRules(db, target.address)
      : target.kind === "domain"
        ? await getDomainRules(db, target.domain)
        : await getSubmissionRules(db, parseSubmissionScope(target.scope));
  printResult(set, JSON.stringify(set, null, 2), true, out);
  return set;
}

/** Validates and replaces; an invalid set throws (RuleSetError with the path) and the stored one stays. */
export async function replaceRules(db: Executor, target: RulesTarget, document: unknown, json: boolean, out?: Out): Promise<RuleSet> {
  const { setAccountRules, setDomainRules, setSubmissionRules, parseSubmissionScope } = await store();
  const set =
    target.kind === "account"
      ? await setAccountRules(db, target.address, document)
      : target.kind === "domain"
        ? await setDomainRules(db, target.domain, document)
        : await setSubmissionRules(db, parseSubmissionScope(target.scope), document);
  const n = set.rules.length;
  printResult(set, `${describeTarget(target)}: ${n} rule${n === 1 ? "" : "s"} stored`, json, out);
  return set;
}

async function rulesAction(target: RulesTarget, o: { set?: string; json?: boolean }): Promise<void> {
  // Read and parse the file before opening the database, so a bad file fails fast.
  const document = o.set === undefined ? undefined : await readRulesFile(o.set);
  await withDatabase({}, (s) => (document === undefined ? showRules(s.db, target) : replaceRules(s.db, target, document, Boolean(o.json))).then(() => {}));
}

function addRulesCommand(parent: Command, name: string, arg: string, describe: string, target: (value: string) => RulesTarget): void {
  parent
    .command(`${name} <${arg}>`)
    .description(describe)
    .option("--set <file>", "replace the rule set with the JSON in FILE ('-' = standard input); refused with the path of the first error")
    .option("--json", "with --set: print the stored rule set as JSON")
    .action((value: string, o: { set?: string; json?: boolean }) => rulesAction(target(value), o));
}

/**
 * `mailcluster account rules ADDRESS [--set FILE]` and `mailcluster domain rules DOMAIN [--set FILE]`
 * hang under the account and domain commands when those are registered (call this after them);
 * `mailcluster rules account|domain|cluster|member …` always exists.
 */
export function registerRules(program: Command): void {
  const account = program.commands.find((c) => c.name() === "account");
  const domain = program.commands.find((c) => c.name() === "domain");
  if (account) addRulesCommand(account, "rules", "address", "show or replace the account's rules (docs/rules.md)", (address) => ({ kind: "account", address }));
  if (domain) addRulesCommand(domain, "rules", "domain", "show or replace the domain's rules, run before each account's", (d) => ({ kind: "domain", domain: d }));

  const rules = program.command("rules").description("rule sets: account, domain, cluster-wide and server-wide (docs/rules.md)");
  addRulesCommand(rules, "account", "address", "show or replace an account's rules", (address) => ({ kind: "account", address }));
  addRulesCommand(rules, "domain", "domain", "show or replace a domain's rules", (d) => ({ kind: "domain", domain: d }));
  addRulesCommand(rules, "member", "name", "show or replace one member's server-wide submission rules", (name) => ({ kind: "submission", scope: `member:${name}` }));
  rules
    .command("cluster")
    .description("show or replace the cluster-wide submission rules (every frontend, once per message)")
    .option("--set <file>", "replace the rule set with the JSON in FILE ('-' = standard input)")
    .option("--json", "with --set: print the stored rule set as JSON")
    .action((o: { set?: string; json?: boolean }) => rulesAction({ kind: "submission", scope: "cluster" }, o));
}
