import { eq, sql } from "drizzle-orm";
import { noteDirectoryWrite } from "../accounts/directory-writes.ts";
import { AccountError, canonicalAddress } from "../accounts/store.ts";
import type { Executor } from "../db/db.ts";
import { accounts, domains } from "../db/schema/index.ts";
import { clusterRules } from "../db/schema/rules.ts";
import { EMPTY_RULE_SET, type RuleScope, type RuleSet } from "./model.ts";
import { RuleSetError, validateRuleSet } from "./validate.ts";

/**
 * Reading and replacing stored rule sets. Writes validate first and change one row with one
 * statement, so an invalid rule set is refused and the old one stays.
 */

const CACHE_LIMIT = 2000;
const validated = new Map<string, RuleSet>();

/**
 * A stored value is re-validated on read (a row edited by hand must not crash delivery).
 * Validation costs far more than serialising, so validated sets are remembered by their JSON
 * text; the cached objects are shared and never mutated, which also keeps compiled regexes.
 */
function stored(value: unknown, scope: RuleScope): RuleSet {
  if (value === null || value === undefined) return EMPTY_RULE_SET;
  const parsed: unknown = typeof value === "string" ? JSON.parse(value) : value;
  const key = `${scope}\n${JSON.stringify(parsed)}`;
  const hit = validated.get(key);
  if (hit) return hit;
  const set = validateRuleSet(parsed, scope);
  if (validated.size >= CACHE_LIMIT) validated.delete(validated.keys().next().value ?? key);
  validated.set(key, set);
  return set;
}

export async function getAccountRules(db: Executor, address: string): Promise<RuleSet> {
  const a = canonicalAddress(address);
  const [row] = await db.select({ rules: accounts.rules }).from(accounts).where(eq(accounts.address, a));
  if (!row) throw new AccountError(`no account ${a}`, 404);
  return stored(row.rules, "account");
}

export async function setAccountRules(db: Executor, address: string, input: unknown): Promise<RuleSet> {
  const ruleSet = validateRuleSet(input, "account");
  const a = canonicalAddress(address);
  const rows = await db.update(accounts).set({ rules: ruleSet }).where(eq(accounts.address, a)).returning({ a: accounts.address });
  if (rows.length === 0) throw new AccountError(`no account ${a}`, 404);
  noteDirectoryWrite();
  return ruleSet;
}

export async function getDomainRules(db: Executor, domain: string): Promise<RuleSet> {
  const d = domain.trim().toLowerCase();
  const [row] = await db.select({ rules: domains.rules }).from(domains).where(eq(domains.name, d));
  if (!row) throw new AccountError(`no domain ${d}`, 404);
  return stored(row.rules, "domain");
}

export async function setDomainRules(db: Executor, domain: string, input: unknown): Promise<RuleSet> {
  const ruleSet = validateRuleSet(input, "domain");
  const d = domain.trim().toLowerCase();
  const rows = await db.update(domains).set({ rules: ruleSet }).where(eq(domains.name, d)).returning({ d: domains.name });
  if (rows.length === 0) throw new AccountError(`no domain ${d}`, 404);
  noteDirectoryWrite();
  return ruleSet;
}

/** Submission rule scopes: "cluster" (every member) or "member:NAME" (server-wide rules of one member). */
export type SubmissionScope = "cluster" | `member:${string}`;

export function parseSubmissionScope(scope: string): SubmissionScope {
  if (scope === "cluster") return "cluster";
  if (/^member:[^\s]{1,200}$/.test(scope)) return scope as SubmissionScope;
  throw new RuleSetError("scope", `must be "cluster" or "member:<name>", got ${JSON.stringify(scope)}`);
}

export async function getSubmissionRules(db: Executor, scope: SubmissionScope): Promise<RuleSet> {
  const [row] = await db.select({ rules: clusterRules.rules }).from(clusterRules).where(eq(clusterRules.scope, scope));
  return stored(row?.rules, "submission");
}

export async function setSubmissionRules(db: Executor, scope: SubmissionScope, input: unknown): Promise<RuleSet> {
  const ruleSet = validateRuleSet(input, "submission");
  await db
    .insert(clusterRules)
    .values({ scope, rules: ruleSet })
    .onConflictDoUpdate({ target: clusterRules.scope, set: { rules: ruleSet, updatedAt: sql`now()` } });
  return ruleSet;
}

/** Cluster-wide rules first, then the member's own server-wide rules. */
export async function loadSubmissionRules(db: Executor, member: string): Promise<RuleSet[]> {
  return [await getSubmissionRules(db, "cluster"), await getSubmissionRules(db, `member:${member}`)];
}

