import { inArray } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { clusterRules } from "../db/schema/rules.ts";
import type { Clock, EnvelopeRecipient, SmtpReply } from "../domain/types.ts";
import type { SubmissionInput, SubmissionRules, SubmissionVerdict } from "../domain/submission-rules.ts";
import { systemClock } from "../util/clock.ts";
import { evaluate } from "./evaluate.ts";
import type { MessageFacts } from "./facts.ts";
import { MessageHeaders } from "./headers.ts";
import { EMPTY_RULE_SET, type RuleSet } from "./model.ts";
import { validateRuleSet } from "./validate.ts";

export const CLUSTER_SCOPE = "cluster";
export const memberScope = (member: string) => `member:${member}`;

/**
 * What the server-wide and cluster-wide rules decide for one message, as a value:
 * reject wins over discard, discard over redirect; headers are added to what is enqueued.
 */
export function decideSubmission(ruleSets: readonly RuleSet[], input: SubmissionInput): SubmissionVerdict {
  const facts: MessageFacts = {
    headers: MessageHeaders.fromFields(input.headers),
    size: input.sizeBytes,
    authenticated: Boolean(input.client.authenticatedUser),
    sender: input.envelope.sender,
    recipients: input.envelope.recipients.map((r) => r.address),
  };
  const actions = evaluate(ruleSets, facts, { implicitKeep: false });
  const addHeaders: string[] = [];
  const redirected: EnvelopeRecipient[] = [];
  let discard = false;
  for (const action of actions) {
    if (action.type === "reject") {
      const reply: SmtpReply = { code: action.code ?? 550, enhanced: "5.7.1", text: action.text ?? "message refused by policy" };
      return { kind: "reject", reply };
    }
    if (action.type === "discard") discard = true;
    if (action.type === "add_header") addHeaders.push(`${action.name}: ${action.value}`);
    if (action.type === "redirect") {
      for (const address of action.to) if (!redirected.some((r) => r.address === address)) redirected.push({ address });
    }
  }
  if (discard) return { kind: "discard" };
  return {
    kind: "accept",
    ...(addHeaders.length > 0 ? { addHeaders } : {}),
    ...(redirected.length > 0 ? { recipients: redirected } : {}),
  };
}

export interface DatabaseSubmissionRulesOptions {
  db: Executor;
  /** This member's name: its server-wide rules are stored under scope "member:<name>". */
  member: string;
  clock?: Clock;
  /** Rule sets are re-read at most this often: one query per message would cost ingest throughput. */
  cacheMs?: number;
  /** A stored rule set that no longer validates is skipped (and reported here), never fatal to SMTP. */
  onInvalid?: (scope: string, error: Error) => void;
}

/** The frontend's SubmissionRules, backed by the cluster_rules table: cluster-wide first, then the member's. */
export function databaseSubmissionRules(options: DatabaseSubmissionRulesOptions): SubmissionRules & { refresh(): Promise<void> } {
  const clock = options.clock ?? systemClock;
  const cacheMs = options.cacheMs ?? 2000;
  const scopes = [CLUSTER_SCOPE, memberScope(options.member)];
  let cached: { at: number; sets: RuleSet[] } | null = null;

  async function load(): Promise<RuleSet[]> {
    const rows = await options.db.select().from(clusterRules).where(inArray(clusterRules.scope, scopes));
    return scopes.map((scope) => {
      const row = rows.find((r) => r.scope === scope);
      if (!row) return EMPTY_RULE_SET;
      try {
        return validateRuleSet(row.rules, "submission");
      } catch (err) {
        options.onInvalid?.(scope, err instanceof Error ? err : new Error(String(err)));
        return EMPTY_RULE_SET;
      }
    });
  }

  async function current(): Promise<RuleSet[]> {
    const now = clock.now().getTime();
    if (!cached || now - cached.at >= cacheMs) cached = { at: now, sets: await load() };
    return cached.sets;
  }

  return {
    async evaluate(input) {
      return decideSubmission(await current(), input);
    },
    async refresh() {
      cached = { at: clock.now().getTime(), sets: await load() };
    },
  };
}
