import { asc, eq } from "drizzle-orm";
import type { SmtpReply } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { shapingRules } from "../db/schema/index.ts";
import { UserError } from "../domain/user-error.ts";

/** A response-driven rule: a reply matching `pattern` suspends or slows its site for `seconds`. */
export interface ReplyRule {
  id: number;
  pattern: string;
  action: "suspend" | "slow";
  seconds: number;
  /** For slow: connections allowed meanwhile. */
  maxConnections: number | null;
}

export interface ReplyRuleInput {
  pattern: string;
  action: "suspend" | "slow";
  seconds: number;
  maxConnections?: number | null;
}

export class ShapingInputError extends UserError {
  override name = "ShapingInputError";
}

/** What a rule matches against: "421 4.7.0 Try again later" (no enhanced status: "421 text"). */
export function replyLine(reply: SmtpReply): string {
  return `${reply.code} ${reply.enhanced ? reply.enhanced + " " : ""}${reply.text}`;
}

/** The first rule a temporary reply matches; permanent and positive replies never shape. */
export function matchRule(rules: readonly CompiledRule[], reply: SmtpReply): CompiledRule | null {
  if (reply.code < 400 || reply.code >= 500) return null;
  const line = replyLine(reply);
  return rules.find((r) => r.regex.test(line)) ?? null;
}

export interface CompiledRule extends ReplyRule {
  regex: RegExp;
}

export function compileRules(rules: readonly ReplyRule[]): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const r of rules) {
    try {
      out.push({ ...r, regex: new RegExp(r.pattern, "i") });
    } catch {
      // Validated on the way in; a row edited by hand that does not compile is skipped.
    }
  }
  return out;
}

export function validateRule(input: unknown): ReplyRuleInput {
  if (!input || typeof input !== "object" || Array.isArray(input)) throw new ShapingInputError("a rule must be a JSON object");
  const r = input as Record<string, unknown>;
  if (typeof r.pattern !== "string" || r.pattern.trim() === "") throw new ShapingInputError('"pattern" must be a non-empty string (a regular expression)');
  try {
    new RegExp(r.pattern, "i");
  } catch (err) {
    throw new ShapingInputError(`"pattern" is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (r.action !== "suspend" && r.action !== "slow") throw new ShapingInputError('"action" must be "suspend" or "slow"');
  if (typeof r.seconds !== "number" || !Number.isInteger(r.seconds) || r.seconds < 1 || r.seconds > 7 * 86400) throw new ShapingInputError('"seconds" must be an integer from 1 to 604800');
  let maxConnections: number | null = null;
  if (r.action === "slow") {
    if (typeof r.maxConnections !== "number" || !Number.isInteger(r.maxConnections) || r.maxConnections < 1) throw new ShapingInputError('a "slow" rule needs "maxConnections", an integer of at least 1');
    maxConnections = r.maxConnections;
  } else if (r.maxConnections !== undefined && r.maxConnections !== null) {
    throw new ShapingInputError('"maxConnections" applies to "slow" rules only');
  }
  return { pattern: r.pattern, action: r.action, seconds: r.seconds, maxConnections };
}

export async function listRules(db: Executor): Promise<ReplyRule[]> {
  const rows = await db.select().from(shapingRules).orderBy(asc(shapingRules.id));
  return rows.map((r) => ({ id: r.id, pattern: r.pattern, action: r.action === "slow" ? "slow" : "suspend", seconds: r.seconds, maxConnections: r.maxConnections }));
}

export async function addRule(db: Executor, input: unknown): Promise<ReplyRule> {
  const r = validateRule(input);
  const [row] = await db
    .insert(shapingRules)
    .values({ pattern: r.pattern, action: r.action, seconds: r.seconds, maxConnections: r.maxConnections ?? null })
    .returning();
  return { id: row.id, pattern: row.pattern, action: r.action, seconds: row.seconds, maxConnections: row.maxConnections };
}

/** True when a rule was removed. */
export async function removeRule(db: Executor, id: number): Promise<boolean> {
  const rows = await db.delete(shapingRules).where(eq(shapingRules.id, id)).returning({ id: shapingRules.id });
  return rows.length > 0;
}
