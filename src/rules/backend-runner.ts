import type { AccountRuleAction, AccountRuleInput } from "../domain/account-rules.ts";
import { evaluate } from "./evaluate.ts";
import { MessageHeaders } from "./headers.ts";
import { EMPTY_RULE_SET, type RuleSet } from "./model.ts";
import { validateRuleSet } from "./validate.ts";

/** The engine behind the backend's AccountRuleRunner seam (src/domain/account-rules.ts). */
export type RunnerInput = AccountRuleInput;
export type RunnerAction = AccountRuleAction;

export interface EngineRunnerOptions {
  /** A stored rule set that does not validate (edited by hand in SQL) is skipped and reported here. */
  onInvalid?: (where: string, error: Error) => void;
}

const FLAG = { flagged: "\\Flagged", seen: "\\Seen" } as const;

/**
 * The Account-Level Rules as delivery runs them: domain rules then account rules, answered in
 * the backend's action vocabulary (src/domain/account-rules.ts); src/backend/account-rules.ts
 * folds the answer into a plan and src/backend/deliver.ts carries it out. `stop` ends
 * evaluation here, so it never reaches the backend.
 */
export function engineRuleRunner(options: EngineRunnerOptions = {}): { run(input: RunnerInput): RunnerAction[] } {
  // The directory hands out the same rule-set object until it reloads, and validating one of
  // 25 rules costs about a millisecond: validate each object once, not once per recipient.
  const valid = { domain: new WeakMap<object, RuleSet>(), account: new WeakMap<object, RuleSet>() };
  const load = (value: unknown, scope: "domain" | "account", where: string): RuleSet => {
    if (value === null || value === undefined) return EMPTY_RULE_SET;
    const known = typeof value === "object" ? valid[scope].get(value) : undefined;
    if (known) return known;
    try {
      const set = validateRuleSet(value, scope);
      if (typeof value === "object") valid[scope].set(value, set);
      return set;
    } catch (err) {
      options.onInvalid?.(where, err instanceof Error ? err : new Error(String(err)));
      return EMPTY_RULE_SET;
    }
  };
  return {
    run(input) {
      const sets = [load(input.domainRules, "domain", `domain ${input.domain}`), load(input.accountRules, "account", `account ${input.account}`)];
      // Decoded only when a rule asks for a header: most accounts have no rules, or none on headers.
      let headers: MessageHeaders | undefined;
      const actions = evaluate(sets, {
        get headers() {
          return (headers ??= MessageHeaders.fromFields([...input.headers].flatMap(([name, values]) => values.map((value) => ({ name, value })))));
        },
        size: input.size,
        authenticated: input.authenticated,
        sender: input.envelope.sender,
        recipients: [input.envelope.recipient],
      });
      const out: RunnerAction[] = [];
      for (const a of actions) {
        switch (a.type) {
          case "folder":
            out.push({ kind: "store", folder: a.folder });
            break;
          case "discard":
            out.push({ kind: "discard" });
            break;
          case "reject":
            out.push({ kind: "reject", text: a.text ?? "message rejected by the recipient's rules", ...(a.code ? { code: a.code } : {}) });
            break;
          case "redirect":
            out.push({ kind: "redirect", to: a.to });
            break;
          case "forward":
            out.push({ kind: "forward", to: a.to });
            break;
          case "vacation":
            out.push({ kind: "auto-reply", text: a.text, ...(a.subject ? { subject: a.subject } : {}), ...(a.days ? { days: a.days } : {}) });
            break;
          case "mark":
            out.push({ kind: "flags", flags: [FLAG[a.flag]] });
            break;
          case "add_header":
            out.push({ kind: "add-header", name: a.name, value: a.value });
            break;
          case "stop":
            break;
        }
      }
      return out;
    },
  };
}
