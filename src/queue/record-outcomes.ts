import { sql } from "drizzle-orm";
import { settleMessages } from "./settle-messages.ts";
import { retryOnDeadlock } from "../db/deadlock.ts";
import { bounceClassOf } from "../domain/bounce-class.ts";
import type { DeliveryOutcome, Random, SmtpReply } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { num, pgArray, queryRows, str, ts } from "../db/rows.ts";
import { isExpired, type RetryPolicy, retryDelayMs } from "./retry-schedule.ts";

/** One finished attempt for one claimed recipient. */
export interface AttemptResult {
  recipient: { id: number; messageId: number; address: string; attempts: number; queuedAt: Date };
  outcome: DeliveryOutcome;
  startedAt: Date;
  durationMs: number;
}

export interface RecordOutcomesParams {
  member: string;
  results: readonly AttemptResult[];
  now: Date;
  policy: RetryPolicy;
  random: Random;
  /**
   * Run the statement again on a deadlock (default). False inside the caller's transaction,
   * which a deadlock aborts: the caller retries the whole transaction instead.
   */
  retryOnDeadlock?: boolean;
}

export interface RecordedRecipient {
  id: number;
  messageId: number;
  state: "queued" | "delivered" | "failed";
  nextAttemptAt: Date | null;
  reply: SmtpReply;
}

export interface RecordOutcomesSummary {
  recorded: RecordedRecipient[];
  /** Ids whose lease this member no longer held: their result was discarded, another member owns them. */
  lost: number[];
  /** Messages that became done (every recipient final) with this call. */
  doneMessageIds: number[];
}

/** Turn a deferral into a final failure once the queue lifetime is used up (RFC 3463 4.4.7). */
export function expiredReply(last: SmtpReply, lifetimeSeconds: number): SmtpReply {
  const days = Math.round((lifetimeSeconds / 86400) * 10) / 10;
  return {
    code: last.code,
    enhanced: "4.4.7",
    text: `message expired: undeliverable for ${days} days; last error: ${last.code} ${last.enhanced ?? ""} ${last.text}`.replace(/\s+/g, " "),
  };
}

/** Several summaries (parts of one batch recorded separately) as one. */
export function mergeSummaries(parts: readonly RecordOutcomesSummary[]): RecordOutcomesSummary {
  return {
    recorded: parts.flatMap((p) => p.recorded),
    lost: parts.flatMap((p) => p.lost),
    doneMessageIds: [...new Set(parts.flatMap((p) => p.doneMessageIds))],
  };
}

/**
 * Map delivery outcomes onto the queue, in one place and one transaction:
 * delivered / failed become final (and the message is done when its last recipient is),
 * deferred get their next attempt from the retry schedule or fail when expired.
 * Only rows this member still holds are written.
 */
export async function recordOutcomes(db: Executor, p: RecordOutcomesParams): Promise<RecordOutcomesSummary> {
  if (p.results.length === 0) return { recorded: [], lost: [], doneMessageIds: [] };
  const planned = p.results.map((r) => plan(r, p));

  // One statement: recipients, message counters and attempt rows change together or not at
  // all, in a single round trip (no BEGIN/COMMIT), which is what makes the queue fast.
  // planned[i] is p.results[i]'s plan, so both arrays line up index for index.
  const pick = <T>(f: (r: AttemptResult) => T) => p.results.map(f);
  const statement = sql`
      WITH v AS (
        SELECT * FROM unnest(
          ${pgArray(planned.map((x) => x.id))}::bigint[],
          ${pgArray(planned.map((x) => x.state))}::text[],
          ${pgArray(planned.map((x) => x.reply.code))}::int[],
          ${pgArray(planned.map((x) => x.reply.enhanced))}::text[],
          ${pgArray(planned.map((x) => x.reply.text))}::text[],
          ${pgArray(planned.map((x) => (x.nextAttemptAt ? x.nextAttemptAt.toISOString() : null)))}::timestamptz[],
          ${pgArray(pick((r) => r.outcome.kind))}::text[],
          ${pgArray(pick((r) => r.outcome.reply.code))}::int[],
          ${pgArray(pick((r) => r.outcome.reply.enhanced))}::text[],
          ${pgArray(pick((r) => r.outcome.reply.text))}::text[],
          ${pgArray(pick((r) => r.outcome.remoteHost ?? null))}::text[],
          ${pgArray(pick((r) => r.startedAt.toISOString()))}::timestamptz[],
          ${pgArray(pick((r) => Math.max(0, Math.round(r.durationMs))))}::int[],
          ${pgArray(pick((r) => bounceClassOf(r.outcome)))}::text[]
        ) AS v(id, state, code, status, text, next_at, outcome, a_code, a_status, a_text, remote_host, started_at, duration_ms, bounce_class)
      ),
      upd AS (
        UPDATE recipients r
        SET state = v.state,
            attempts = r.attempts + 1,
            locked_by = NULL,
            locked_until = NULL,
            next_attempt_at = coalesce(v.next_at, r.next_attempt_at),
            last_code = v.code,
            last_status = v.status,
            last_text = v.text,
            last_attempt_at = ${ts(p.now)},
            final_at = CASE WHEN v.state IN ('delivered', 'failed') THEN ${ts(p.now)} ELSE NULL END
        FROM v
        WHERE r.id = v.id AND r.locked_by = ${p.member} AND r.state = 'queued'
        RETURNING r.id, r.message_id, r.address, r.state
      ),
      fin AS (
        SELECT message_id, count(*)::int AS n FROM upd WHERE state IN ('delivered', 'failed') GROUP BY message_id
      ),
      msg AS (
        ${settleMessages(p.now)}
        RETURNING m.id, m.done_at
      ),
      att AS (
        INSERT INTO attempts (message_id, recipient_id, address, member, outcome, reply_code, enhanced_status, reply_text, remote_host, started_at, duration_ms, bounce_class)
        SELECT upd.message_id, upd.id, upd.address, ${p.member}, v.outcome, v.a_code, v.a_status, v.a_text, v.remote_host, v.started_at, v.duration_ms, v.bounce_class
        FROM upd JOIN v ON v.id = upd.id
        RETURNING 1
      )
      SELECT 'recipient' AS what, id, state FROM upd
      UNION ALL
      SELECT 'message' AS what, id, CASE WHEN done_at IS NULL THEN 'open' ELSE 'done' END FROM msg
      UNION ALL
      SELECT 'attempts' AS what, count(*)::bigint, '' FROM att`;
  // Two members finishing recipients of the same messages in opposite order can deadlock on the
  // messages rows; the statement is atomic, so it is simply run again.
  const rows = p.retryOnDeadlock === false ? await queryRows(db, statement) : await retryOnDeadlock(() => queryRows(db, statement));

  const written = new Set<number>();
  const doneMessageIds: number[] = [];
  for (const row of rows) {
    const what = str(row.what);
    if (what === "recipient") written.add(num(row.id));
    else if (what === "message" && str(row.state) === "done") doneMessageIds.push(num(row.id));
  }
  const recorded = planned.filter((x) => written.has(x.id));
  const lost = planned.filter((x) => !written.has(x.id)).map((x) => x.id);
  return { recorded, lost, doneMessageIds };
}

function plan(r: AttemptResult, p: RecordOutcomesParams): RecordedRecipient {
  const { outcome, recipient } = r;
  const base = { id: recipient.id, messageId: recipient.messageId };
  if (outcome.kind === "delivered") return { ...base, state: "delivered", nextAttemptAt: null, reply: outcome.reply };
  if (outcome.kind === "failed") return { ...base, state: "failed", nextAttemptAt: null, reply: outcome.reply };
  if (isExpired(p.policy, recipient.queuedAt, p.now)) {
    return { ...base, state: "failed", nextAttemptAt: null, reply: expiredReply(outcome.reply, p.policy.lifetimeSeconds) };
  }
  // The last try lands on the deadline itself rather than being skipped.
  const deadline = recipient.queuedAt.getTime() + p.policy.lifetimeSeconds * 1000;
  const scheduled = outcome.retryAt ? outcome.retryAt.getTime() : p.now.getTime() + retryDelayMs(p.policy, recipient.attempts + 1, p.random);
  const next = Math.min(scheduled, deadline);
  return { ...base, state: "queued", nextAttemptAt: new Date(next), reply: outcome.reply };
}
