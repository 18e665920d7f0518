import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { date, num, queryRows, ts } from "../db/rows.ts";
import type { Clock } from "../domain/types.ts";
import { readQueueDepth } from "./queue-depth.ts";

/** One point a minute: the overview's charts count per minute, so both share their x axis. */
export const QUEUE_DEPTH_SAMPLE_SECONDS = 60;
/** A day of points (1440 rows) answers "what happened overnight" and stays a tiny table. */
export const QUEUE_DEPTH_RETENTION_SECONDS = 24 * 3600;
/**
 * The timer runs four times per slot: a timer that drifts never leaves a slot empty, and a slot
 * is taken once (remembered here, and the slot start is the table's key across members).
 */
export const QUEUE_DEPTH_TICK_MS = (QUEUE_DEPTH_SAMPLE_SECONDS * 1000) / 4;

export interface StateDepth {
  queued: number;
  deferred: number;
  held: number;
}

export interface QueueDepthSample extends StateDepth {
  /** Start of the slot the sample was taken in. */
  at: Date;
}

/** Waiting recipients per state, the same scan the cluster gauges read (summed over domains). */
export async function readStateDepth(db: Executor, now: Date): Promise<StateDepth> {
  const out: StateDepth = { queued: 0, deferred: 0, held: 0 };
  for (const d of await readQueueDepth(db, now)) out[d.state] += d.recipients;
  return out;
}

/** Stores one slot's sample; false when another member already took this slot. */
export async function recordQueueDepth(db: Executor, at: Date, member: string, depth: StateDepth): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`INSERT INTO queue_depth_samples (sampled_at, queued, deferred, held, sampled_by)
        VALUES (${ts(at)}, ${depth.queued}, ${depth.deferred}, ${depth.held}, ${member})
        ON CONFLICT (sampled_at) DO NOTHING RETURNING sampled_at`,
  );
  return rows.length > 0;
}

/** Drops samples older than `before`; returns how many. */
export async function pruneQueueDepth(db: Executor, before: Date): Promise<number> {
  const rows = await queryRows(db, sql`DELETE FROM queue_depth_samples WHERE sampled_at < ${ts(before)} RETURNING 1`);
  return rows.length;
}

/** Samples in [since, until], oldest first. */
export async function queueDepthHistory(db: Executor, since: Date, until: Date): Promise<QueueDepthSample[]> {
  const rows = await queryRows(
    db,
    sql`SELECT sampled_at, queued, deferred, held FROM queue_depth_samples
        WHERE sampled_at >= ${ts(since)} AND sampled_at <= ${ts(until)} ORDER BY sampled_at`,
  );
  return rows.map((r) => ({ at: date(r.sampled_at), queued: num(r.queued), deferred: num(r.deferred), held: num(r.held) }));
}

export interface QueueDepthSamplerOptions {
  db: Executor;
  clock: Clock;
  member: string;
  /** Whether this member is the one that samples now (the exporter of the cluster figures). */
  isSampler: () => boolean;
  sampleSeconds?: number;
  retentionSeconds?: number;
}

export type SamplerTick = "sampled" | "taken" | "same-slot" | "not-sampler";

/**
 * Samples the queue depth once per slot, on one member of the cluster, and prunes what is
 * older than the retention. Driven by a timer (tick() every QUEUE_DEPTH_TICK_MS); tick() itself
 * reads only the injected clock, so tests step it.
 */
export class QueueDepthSampler {
  private lastSlot = -1;
  private readonly slotMs: number;
  private readonly retentionMs: number;

  constructor(private readonly o: QueueDepthSamplerOptions) {
    this.slotMs = (o.sampleSeconds ?? QUEUE_DEPTH_SAMPLE_SECONDS) * 1000;
    this.retentionMs = (o.retentionSeconds ?? QUEUE_DEPTH_RETENTION_SECONDS) * 1000;
  }

  async tick(): Promise<SamplerTick> {
    if (!this.o.isSampler()) return "not-sampler";
    const now = this.o.clock.now();
    const slot = Math.floor(now.getTime() / this.slotMs);
    if (slot === this.lastSlot) return "same-slot";
    const depth = await readStateDepth(this.o.db, now);
    const stored = await recordQueueDepth(this.o.db, new Date(slot * this.slotMs), this.o.member, depth);
    this.lastSlot = slot;
    await pruneQueueDepth(this.o.db, new Date(now.getTime() - this.retentionMs));
    return stored ? "sampled" : "taken";
  }
}
