import { deferred } from "../domain/outcome.ts";
import type { DeliveryOutcome } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import { type AttemptResult, mergeSummaries, recordOutcomes, type RecordOutcomesSummary } from "./record-outcomes.ts";
import type { RetryPolicy } from "./retry-schedule.ts";
import type { Random } from "../domain/types.ts";

/** Outcomes written inside a caller's transaction, waiting for its COMMIT. */
export interface PendingRecord {
  summary: RecordOutcomesSummary;
  /** Call once the transaction committed: only then do these outcomes count as recorded. */
  committed(): void;
}

/**
 * Lets a delivery handler record outcomes in its own transaction (a local store and the queue
 * rows it completes commit together). What it does not record, the worker records after it.
 */
export interface OutcomeRecorder {
  recordIn(tx: Executor, outcomes: readonly RecipientOutcome[]): Promise<PendingRecord>;
}

export interface BatchRecorderOptions {
  member: string;
  now: () => Date;
  policy: RetryPolicy;
  random: Random;
  /** Told of recipients whose outcome committed (the worker stops renewing them). */
  onCommitted?: (ids: readonly number[]) => void;
}

const noAnswer: DeliveryOutcome = deferred(451, "4.3.0", "no answer for this recipient");

/**
 * The recorder of ONE claimed batch: outcomes recorded by the handler (committed) and the
 * rest recorded by `finish`, all mapped onto the queue by recordOutcomes, summarised once.
 */
export class BatchRecorder implements OutcomeRecorder {
  private readonly byId: Map<number, ClaimedRecipient>;
  private readonly done = new Map<number, AttemptResult>();
  private readonly summaries: RecordOutcomesSummary[] = [];
  private readonly startedAt: Date;
  private readonly t0 = performance.now();

  constructor(
    readonly batch: readonly ClaimedRecipient[],
    private readonly o: BatchRecorderOptions,
  ) {
    this.byId = new Map(batch.map((r) => [r.id, r]));
    this.startedAt = o.now();
  }

  /** Milliseconds since the batch started. */
  get elapsedMs(): number {
    return performance.now() - this.t0;
  }

  async recordIn(tx: Executor, outcomes: readonly RecipientOutcome[]): Promise<PendingRecord> {
    const results = this.results(outcomes.filter((o) => !this.done.has(o.recipientId)));
    const summary = await recordOutcomes(tx, { member: this.o.member, results, now: this.o.now(), policy: this.o.policy, random: this.o.random, retryOnDeadlock: false });
    return {
      summary,
      committed: () => {
        for (const r of results) this.done.set(r.recipient.id, r);
        this.summaries.push(summary);
        this.o.onCommitted?.(results.map((r) => r.recipient.id));
      },
    };
  }

  /**
   * Record the handler's answers for whatever it did not record itself (a recipient it left
   * out is deferred) on `db`; answers for recipients already committed are ignored.
   */
  async finish(db: Executor, answers: readonly RecipientOutcome[]): Promise<{ summary: RecordOutcomesSummary; results: AttemptResult[] }> {
    const given = new Map(answers.map((a) => [a.recipientId, a.outcome]));
    const rest = this.batch.filter((r) => !this.done.has(r.id)).map((r) => ({ recipientId: r.id, outcome: given.get(r.id) ?? noAnswer }));
    const results = this.results(rest);
    const summary = await recordOutcomes(db, { member: this.o.member, results, now: this.o.now(), policy: this.o.policy, random: this.o.random });
    this.o.onCommitted?.(results.map((r) => r.recipient.id));
    return { summary: mergeSummaries([...this.summaries, summary]), results: [...this.done.values(), ...results] };
  }

  /** What was committed by the handler so far (the worker's fallback when `finish` fails). */
  get committedResults(): AttemptResult[] {
    return [...this.done.values()];
  }

  private results(outcomes: readonly RecipientOutcome[]): AttemptResult[] {
    const durationMs = this.elapsedMs;
    const out: AttemptResult[] = [];
    for (const o of outcomes) {
      const recipient = this.byId.get(o.recipientId);
      if (recipient) out.push({ recipient, outcome: o.outcome, startedAt: this.startedAt, durationMs });
    }
    return out;
  }
}
