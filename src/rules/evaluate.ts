import { conditionHolds } from "./conditions.ts";
import type { MessageFacts } from "./facts.ts";
import type { Action, Rule, RuleSet } from "./model.ts";

export const INBOX = "INBOX";

/** Actions that decide where the message goes; without one, the implicit keep stores it in INBOX. */
const DISPOSITIONS: ReadonlySet<Action["type"]> = new Set(["folder", "discard", "reject", "redirect"]);

export interface EvaluateOptions {
  /** Append "store in INBOX" when no rule disposed of the message (account rules: yes; submission: no). */
  implicitKeep?: boolean;
}

export function ruleMatches(rule: Rule, facts: MessageFacts): boolean {
  const conditions = rule.conditions ?? [];
  if (conditions.length === 0) return true;
  return rule.match === "any" ? conditions.some((c) => conditionHolds(c, facts)) : conditions.every((c) => conditionHolds(c, facts));
}

/**
 * Runs rule sets in order (e.g. the domain's, then the account's) and returns the actions to
 * take, as values. Every matching rule contributes its actions; `stop` ends the evaluation;
 * `reject` ends it too and is then the only action (a refused message is neither stored nor
 * answered). Repeated folder and mark actions appear once.
 */
export function evaluate(ruleSets: RuleSet | readonly RuleSet[], facts: MessageFacts, options: EvaluateOptions = {}): Action[] {
  const sets = Array.isArray(ruleSets) ? (ruleSets as readonly RuleSet[]) : [ruleSets as RuleSet];
  const actions: Action[] = [];
  const seen = new Set<string>();
  outer: for (const set of sets) {
    for (const rule of set.rules) {
      if (!ruleMatches(rule, facts)) continue;
      for (const action of rule.actions) {
        if (action.type === "stop") break outer;
        if (action.type === "reject") return [action];
        if (action.type === "folder" || action.type === "mark") {
          const key = JSON.stringify(action);
          if (seen.has(key)) continue;
          seen.add(key);
        }
        actions.push(action);
      }
    }
  }
  if ((options.implicitKeep ?? true) && !actions.some((a) => DISPOSITIONS.has(a.type))) {
    actions.push({ type: "folder", folder: INBOX });
  }
  return actions;
}
