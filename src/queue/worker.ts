import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import { deferred } from "../domain/outcome.ts";
import type { Clock, Random } from "../domain/types.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { claimBatch } from "./claim.ts";
import { releaseRecipients, renewInFlightLeases, shortenRecipientLeases } from "./lease.ts";
import type { AttemptResult, RecordOutcomesSummary } from "./record-outcomes.ts";
import { BatchRecorder, type OutcomeRecorder } from "./recorder.ts";
import type { RetryPolicy } from "./retry-schedule.ts";

/**
 * A batch whose outcomes could not be recorded is claimable again this much later (by any
 * member), rather than when its whole lease runs out; the pause keeps a recording that fails
 * every time from redelivering in a tight loop.
 */
export const RECLAIM_AFTER_RECORD_FAILURE_MS = 1000;

/**
 * Delivers a whole claimed batch (recipients of many messages). It may record outcomes itself,
 * inside its own transaction, through `recorder`; it answers the recipients it did not record
 * (one it neither records nor answers is deferred).
 */
export type DeliveryHandler = (recipients: ClaimedRecipient[], recorder: OutcomeRecorder) => Promise<RecipientOutcome[]>;

export interface WorkerOptions {
  db: Db;
  member: string;
  /** Take messages of the shared pool as well as our own (locally-for-others). */
  includePool: () => boolean;
  handler: DeliveryHandler;
  clock: Clock;
  random: Random;
  logger: Logger;
  policy: () => RetryPolicy;
  leaseMs: number;
  pollIntervalMs: number;
  batchSize: number;
  /** Message bytes per claim (each recipient counts its message): bounds the bodies a batch loads. */
  batchMaxBytes?: number;
  /** Claimed batches delivered in parallel. */
  concurrency: number;
  /**
   * After waiting (idle, or a partial batch), let work gather this long before the next claim:
   * messages arriving close together then share one batch, whose cost in statements is the
   * same for one message or fifty. Default 0.
   */
  gatherMs?: number;
  /**
   * While new work keeps being announced (nudges) during the gather, gather again, for up to
   * this long in all: under a steady stream the batch then fills (fewer statements per
   * message) at the price of this much latency; a lone message still waits one gatherMs.
   * Default: gatherMs (no extension).
   */
  gatherMaxMs?: number;
  /**
   * Told once after each recorded batch (metrics, DSN generation), with the claimed rows so
   * nothing the claim returned is read again.
   */
  onRecorded?: (summary: RecordOutcomesSummary, results: AttemptResult[], claimed: readonly ClaimedRecipient[]) => void | Promise<void>;
  /** Asked before each claim how long to hold off (ingest first, ingest-first.ts), and told what each claim took. */
  holdOff?: ClaimHoldOff;
  /** After each hold, with its length in ms (metrics). */
  onHeld?: (ms: number) => void;
}

export interface ClaimHoldOff {
  holdMs(): number;
  /** A claim starts now. */
  claiming(): void;
  /** What a claim took, and whether more was ready. */
  claimed(count: number, more: boolean): void;
}

/**
 * The queue worker: claim, deliver, record; sleep when idle until nudged or the poll
 * interval passes. Leases of in-flight recipients are renewed so a slow delivery keeps them,
 * and a dead process simply stops renewing.
 */
export class QueueWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private nudged = false;
  private waitingForRoom = false;
  private gather = false;
  private holding = false;
  private readonly inFlight = new Map<number, ClaimedRecipient>();
  private readonly active = new Set<Promise<void>>();
  private renewTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.o.leaseMs / 3)));
    this.renewTimer.unref?.();
    this.loop = this.run();
  }

  /** Wake the loop now (a NOTIFY arrived). */
  nudge(): void {
    this.nudged = true;
    // A hold is for letting work pile up: the NOTIFYs of that work must not end it.
    if (!this.holding) this.wake?.();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Stop claiming, let in-flight work finish for up to graceMs, then release what is left. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    const all = Promise.all([...this.active]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    const left = [...this.inFlight.keys()];
    if (left.length > 0) {
      const released = await releaseRecipients(this.o.db, this.o.member, left).catch(() => 0);
      this.o.logger.info({ released }, "released in-flight recipients on shutdown");
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: ClaimedRecipient[] = [];
      let more = false;
      let failed = false;
      const room = this.o.concurrency - this.active.size;
      if (room > 0) {
        const hold = this.o.holdOff?.holdMs() ?? 0;
        if (hold > 0) {
          this.holding = true;
          const t0 = performance.now();
          await this.sleep(hold);
          this.holding = false;
          this.o.onHeld?.(performance.now() - t0);
          continue;
        }
        const gather = this.gather && Boolean(this.o.gatherMs);
        this.gather = false;
        if (gather) {
          await this.gatherWork(this.o.gatherMs ?? 0);
          // What arrived meanwhile may say ingest is busy: ask the hold-off again before claiming.
          if (this.o.holdOff) continue;
        }
        try {
          this.nudged = false;
          this.o.holdOff?.claiming();
          ({ recipients: claimed, more } = await claimBatch(this.o.db, {
            member: this.o.member,
            includePool: this.o.includePool(),
            limit: this.o.batchSize,
            maxBytes: this.o.batchMaxBytes,
            leaseMs: this.o.leaseMs,
            now: this.o.clock.now(),
          }));
          this.o.holdOff?.claimed(claimed.length, more);
        } catch (err) {
          this.o.logger.warn({ err: coerceError(err).message }, "claim failed; retrying after the poll interval");
          failed = true;
        }
      }
      if (claimed.length > 0) {
        for (const r of claimed) this.inFlight.set(r.id, r);
        const task = this.process(claimed).finally(() => {
          this.active.delete(task);
          if (this.waitingForRoom) this.wake?.();
        });
        this.active.add(task);
        // Full batch: there is likely more; go again once there is room.
        if (this.active.size < this.o.concurrency && more) continue;
      }
      if (!this.running) break;
      // New work was announced while we claimed: claim again (with room; with none it would
      // spin), gathering first: the claim took all that was ready, so what follows is arriving.
      if (this.nudged && !failed && this.active.size < this.o.concurrency) {
        this.gather = true;
        continue;
      }
      // Otherwise nothing more is ready: claiming again at once would only cost an empty claim
      // per batch. Wait for a nudge, the poll, or (every slot busy) a slot coming free.
      this.waitingForRoom = this.active.size >= this.o.concurrency;
      this.gather = !this.waitingForRoom;
      await this.sleep(this.o.pollIntervalMs);
      this.waitingForRoom = false;
    }
  }

  /** Wait `step`, and again while work was announced meanwhile, up to gatherMaxMs in all. */
  private async gatherWork(step: number): Promise<void> {
    const deadline = performance.now() + Math.max(step, this.o.gatherMaxMs ?? step);
    for (;;) {
      this.nudged = false;
      await new Promise((r) => setTimeout(r, step));
      const left = deadline - performance.now();
      if (!this.running || !this.nudged || left <= 0) return;
      step = Math.min(step, left);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async process(batch: ClaimedRecipient[]): Promise<void> {
    const recorder = new BatchRecorder(batch, {
      member: this.o.member,
      now: () => this.o.clock.now(),
      policy: this.o.policy(),
      random: this.o.random,
      // Recorded = no longer ours: a renewal (during the DSN pass, say) must not call it lost.
      onCommitted: (ids) => {
        for (const id of ids) this.inFlight.delete(id);
      },
    });
    let answers: RecipientOutcome[];
    try {
      answers = await this.o.handler(batch, recorder);
    } catch (err) {
      const e = coerceError(err);
      this.o.logger.error({ err: e.message, messageIds: messageIdsOf(batch) }, "delivery handler failed; deferring");
      answers = batch.map((r) => ({
        recipientId: r.id,
        outcome: deferred(451, "4.3.0", `local error: ${e.message}`),
      }));
    }
    const durationMs = recorder.elapsedMs;
    let recorded = false;
    try {
      const { summary, results } = await recorder.finish(this.o.db, answers);
      recorded = true;
      const lost = new Set(summary.lost);
      // A member's logger already names it on every line: the key once, not twice per attempt.
      const member = this.o.logger.bindings().member === undefined ? this.o.member : undefined;
      for (const res of results) {
        const o = res.outcome;
        this.o.logger.info(
          {
            messageId: res.recipient.messageId,
            recipient: res.recipient.address,
            member,
            result: o.kind,
            code: o.reply.code,
            status: o.reply.enhanced,
            text: o.reply.text,
            remoteHost: o.remoteHost ?? undefined,
            ms: Math.round(durationMs),
            lost: lost.has(res.recipient.id) || undefined,
          },
          "delivery attempt",
        );
      }
      await this.o.onRecorded?.(summary, results, batch);
    } catch (err) {
      if (recorded) {
        this.o.logger.error({ err: coerceError(err).message, messageIds: messageIdsOf(batch) }, "after-record step failed");
      } else {
        // Another attempt follows (at-least-once, never lost), soon rather than after the lease.
        this.o.logger.error({ err: coerceError(err).message, messageIds: messageIdsOf(batch) }, "could not record outcomes; leases cut short");
        await this.giveBack(batch, recorder);
      }
    } finally {
      for (const r of batch) this.inFlight.delete(r.id);
    }
  }

  /** The recipients of a batch not recorded yet (the handler may have committed some): claimable again shortly. */
  private async giveBack(batch: readonly ClaimedRecipient[], recorder: BatchRecorder): Promise<void> {
    const committed = new Set(recorder.committedResults.map((r) => r.recipient.id));
    const ids = batch.filter((r) => !committed.has(r.id)).map((r) => r.id);
    const until = new Date(this.o.clock.now().getTime() + RECLAIM_AFTER_RECORD_FAILURE_MS);
    try {
      await shortenRecipientLeases(this.o.db, this.o.member, ids, until);
    } catch (err) {
      // The database is unreachable too: the leases simply run out.
      this.o.logger.warn({ err: coerceError(err).message }, "could not cut the leases of an unrecorded batch short");
    }
  }

  /** Extend the leases of what is in flight (the timer's job; public for tests). */
  async renewLeases(): Promise<void> {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0) return;
    try {
      const r = await renewInFlightLeases(this.o.db, { member: this.o.member, ids, now: this.o.clock.now(), leaseMs: this.o.leaseMs });
      const lost = r.lost.filter((id) => this.inFlight.has(id));
      if (lost.length > 0) this.o.logger.warn({ lost }, "leases lost while in flight; results will be discarded");
    } catch (err) {
      this.o.logger.warn({ err: coerceError(err).message }, "lease renewal failed");
    }
  }
}

function messageIdsOf(batch: readonly ClaimedRecipient[]): number[] {
  return [...new Set(batch.map((r) => r.messageId))];
}

export function groupByMessage(rows: ClaimedRecipient[]): ClaimedRecipient[][] {
  const groups = new Map<number, ClaimedRecipient[]>();
  for (const r of rows) {
    const g = groups.get(r.messageId);
    if (g) g.push(r);
    else groups.set(r.messageId, [r]);
  }
  return [...groups.values()];
}
