import type { core } from "zod";
import { AccountError, validateAddress } from "../accounts/store.ts";
import { globToRegExp } from "./glob.ts";
import { hasNestedQuantifier } from "./regex-safety.ts";
import { ACTIONS_BY_SCOPE, type Condition, LIMITS, type RuleScope, type RuleSet, ruleSetSchema } from "./model.ts";
import { UserError } from "../domain/user-error.ts";

/** An invalid rule set: `path` points at the first offending value, e.g. rules[2].actions[0].folder. */
export class RuleSetError extends UserError {
  override name = "RuleSetError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`, 400, [{ path, message: reason }]);
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(rule set)" : out;
}

/** Wording for zod's built-in issues where the schema gave none of its own. */
function defaultMessage(issue: core.$ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type" && issue.input === undefined) return "is required";
  if (issue.code === "invalid_type") return `must be ${issue.expected === "object" ? "an object" : `a ${issue.expected}`}`;
  if (issue.code === "unrecognized_keys") return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  if (issue.code === "invalid_union" && "options" in issue && Array.isArray(issue.options)) {
    return `must be one of: ${issue.options.map(String).join(", ")}`;
  }
  if (issue.code === "invalid_value") return `must be one of: ${issue.values.map(String).join(", ")}`;
  return undefined;
}

/**
 * Refuses anything but a well-formed rule set, naming the first error by its JSON path.
 * Beyond the shape: values present where the operator needs one, regexes and globs that
 * compile (and are not too long), addresses that are addresses, and only the actions that
 * make sense where the rule set runs.
 */
export function validateRuleSet(input: unknown, scope: RuleScope): RuleSet {
  const parsed = ruleSetSchema.safeParse(input, { error: defaultMessage });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) throw new RuleSetError("(rule set)", "invalid");
    throw new RuleSetError(formatPath(issue.path), issue.message);
  }
  const ruleSet = parsed.data;
  const allowed = ACTIONS_BY_SCOPE[scope];
  ruleSet.rules.forEach((rule, r) => {
    (rule.conditions ?? []).forEach((condition, c) => checkCondition(condition, `rules[${r}].conditions[${c}]`));
    rule.actions.forEach((action, a) => {
      const at = `rules[${r}].actions[${a}]`;
      if (!allowed.includes(action.type)) throw new RuleSetError(`${at}.type`, `"${action.type}" is not allowed in ${scope} rules`);
      if (action.type === "redirect" || action.type === "forward") {
        action.to = action.to.map((address, i) => checkAddress(address, `${at}.to[${i}]`));
      }
    });
  });
  return ruleSet;
}

function checkCondition(condition: Condition, at: string): void {
  if (condition.field === "size" || condition.field === "authenticated") return;
  if (condition.op === "exists") {
    if (condition.value !== undefined) throw new RuleSetError(`${at}.value`, `must be absent with op "exists"`);
    return;
  }
  if (condition.value === undefined) throw new RuleSetError(`${at}.value`, `is required with op "${condition.op}"`);
  if (condition.op === "regex") {
    if (condition.value.length > LIMITS.patternLength) {
      throw new RuleSetError(`${at}.value`, `regex must be at most ${LIMITS.patternLength} characters`);
    }
    if (hasNestedQuantifier(condition.value)) {
      throw new RuleSetError(`${at}.value`, "regex has a quantified group containing * + or {n,} (catastrophic backtracking); simplify it");
    }
    try {
      compileRegex(condition.value, condition.case_sensitive ?? false);
    } catch (err) {
      throw new RuleSetError(`${at}.value`, `invalid regex: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (condition.op === "matches" && condition.value.length > LIMITS.patternLength) {
    throw new RuleSetError(`${at}.value`, `pattern must be at most ${LIMITS.patternLength} characters`);
  }
  if (condition.op === "matches") globToRegExp(condition.value, condition.case_sensitive ?? false);
}

function checkAddress(address: string, at: string): string {
  try {
    return validateAddress(address);
  } catch (err) {
    if (err instanceof AccountError) throw new RuleSetError(at, `must be an address (local@domain): ${JSON.stringify(address)}`);
    throw err;
  }
}

/** Unicode mode so that sloppy escapes are refused at validation rather than matching oddly. */
export function compileRegex(pattern: string, caseSensitive: boolean): RegExp {
  return new RegExp(pattern, caseSensitive ? "u" : "iu");
}
