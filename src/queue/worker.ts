import type { Clock, DeliveryOutcome, Random } from "../domain/types.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { claimRecipients } from "./claim.ts";
import type { ClaimedRecipient } from "./claimed.ts";
import { releaseRecipients, renewRecipientLeases } from "./lease.ts";
import { type AttemptResult, recordOutcomes, type RecordOutcomesSummary } from "./record-outcomes.ts";
import type { RetryPolicy } from "./retry-schedule.ts";

/** The answer for one recipient of a delivery batch. */
export interface RecipientOutcome {
  recipientId: number;
  outcome: DeliveryOutcome;
}

/**
 * Delivers the recipients of ONE message (the worker groups claims by message so a relay can
 * send them in one SMTP transaction, and local delivery can group them per backend).
 * Must answer every recipient; one it leaves out is deferred.
 */
export type DeliveryHandler = (recipients: ClaimedRecipient[]) => Promise<RecipientOutcome[]>;

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
  /** Messages delivered in parallel. */
  concurrency: number;
  /** Told after each recorded batch (metrics, DSN generation). */
  onRecorded?: (summary: RecordOutcomesSummary, results: AttemptResult[]) => void | Promise<void>;
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
  private readonly inFlight = new Map<number, ClaimedRecipient>();
  private readonly active = new Set<Promise<void>>();
  private renewTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.o.leaseMs / 3)));
    this.renewTimer.unref?.();
    this.loop = this.run();
  }

  /** Wake the loop now (a NOTIFY arrived). */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
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
      const room = this.o.concurrency - this.active.size;
      if (room > 0) {
        try {
          this.nudged = false;
          claimed = await claimRecipients(this.o.db, {
            member: this.o.member,
            includePool: this.o.includePool(),
            limit: this.o.batchSize,
            leaseMs: this.o.leaseMs,
            now: this.o.clock.now(),
          });
        } catch (err) {
          this.o.logger.warn({ err: coerceError(err).message }, "claim failed; retrying after the poll interval");
        }
      }
      if (claimed.length > 0) {
        for (const group of groupByMessage(claimed)) {
          for (const r of group) this.inFlight.set(r.id, r);
          const task = this.process(group).finally(() => {
            this.active.delete(task);
            this.wake?.();
          });
          this.active.add(task);
        }
        // Full batch: there is likely more; go again once there is room.
        if (this.active.size < this.o.concurrency && claimed.length === this.o.batchSize) continue;
      }
      if (!this.running) break;
      // Only when there was room to claim: with every slot busy this would spin without awaiting.
      if (claimed.length === 0 && this.nudged && room > 0) continue;
      await this.sleep(claimed.length === 0 || room <= 0 ? this.o.pollIntervalMs : 0);
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

  private async process(group: ClaimedRecipient[]): Promise<void> {
    const startedAt = this.o.clock.now();
    const t0 = performance.now();
    let answers: RecipientOutcome[];
    try {
      answers = await this.o.handler(group);
    } catch (err) {
      const e = coerceError(err);
      this.o.logger.error({ err: e.message, messageId: group[0].messageId }, "delivery handler failed; deferring");
      answers = group.map((r) => ({
        recipientId: r.id,
        outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.3.0", text: `local error: ${e.message}` } },
      }));
    }
    const durationMs = performance.now() - t0;
    const byId = new Map(answers.map((a) => [a.recipientId, a.outcome]));
    const results: AttemptResult[] = group.map((r) => ({
      recipient: r,
      outcome: byId.get(r.id) ?? { kind: "deferred", reply: { code: 451, enhanced: "4.3.0", text: "no answer for this recipient" } },
      startedAt,
      durationMs,
    }));
    try {
      const summary = await recordOutcomes(this.o.db, {
        member: this.o.member,
        results,
        now: this.o.clock.now(),
        policy: this.o.policy(),
        random: this.o.random,
      });
      for (const res of results) {
        const o = res.outcome;
        this.o.logger.info(
          {
            messageId: res.recipient.messageId,
            recipient: res.recipient.address,
            member: this.o.member,
            result: o.kind,
            code: o.reply.code,
            status: o.reply.enhanced,
            text: o.reply.text,
            remoteHost: o.remoteHost ?? undefined,
            ms: Math.round(durationMs),
            lost: summary.lost.includes(res.recipient.id) || undefined,
          },
          "delivery attempt",
        );
      }
      await this.o.onRecorded?.(summary, results);
    } catch (err) {
      // The lease runs out and another attempt follows: at-least-once, never lost.
      this.o.logger.error({ err: coerceError(err).message, messageId: group[0].messageId }, "could not record outcomes");
    } finally {
      for (const r of group) this.inFlight.delete(r.id);
    }
  }

  private async renew(): Promise<void> {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0) return;
    try {
      const held = new Set(await renewRecipientLeases(this.o.db, { member: this.o.member, ids, now: this.o.clock.now(), leaseMs: this.o.leaseMs }));
      const lost = ids.filter((id) => !held.has(id) && this.inFlight.has(id));
      if (lost.length > 0) this.o.logger.warn({ lost }, "leases lost while in flight; results will be discarded");
    } catch (err) {
      this.o.logger.warn({ err: coerceError(err).message }, "lease renewal failed");
    }
  }
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
