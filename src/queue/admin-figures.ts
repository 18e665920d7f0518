import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { date, num, numOrNull, queryRows, str, strOrNull, ts } from "../db/rows.ts";
import { queueStateCounts } from "./admin-search.ts";
import { type QueueDepthSample, QUEUE_DEPTH_SAMPLE_SECONDS, queueDepthHistory } from "./depth-history.ts";

/** What the WebAdmin overview shows of the last hour, read from the attempts log. */
export interface RecentFigures {
  /** One entry per minute that had attempts, oldest first. */
  perMinute: Array<{ minute: Date; delivered: number; deferred: number; failed: number }>;
  topDeferrals: Array<{ code: number; enhanced: string | null; text: string; count: number }>;
  /** Submission → final outcome of recipients finished in the window; null when none. */
  queueTime: { p50: number | null; p95: number | null; finished: number };
  perMember: Array<{ member: string; delivered: number; deferred: number; failed: number }>;
}

export async function recentFigures(db: Executor, now: Date, windowSeconds = 3600): Promise<RecentFigures> {
  const since = ts(new Date(now.getTime() - windowSeconds * 1000));
  const [minutes, deferrals, timing, members] = await Promise.all([
    queryRows(
      db,
      sql`SELECT date_trunc('minute', started_at) AS minute,
                 count(*) FILTER (WHERE outcome = 'delivered')::int AS delivered,
                 count(*) FILTER (WHERE outcome = 'deferred')::int AS deferred,
                 count(*) FILTER (WHERE outcome = 'failed')::int AS failed
          FROM attempts WHERE started_at > ${since} GROUP BY 1 ORDER BY 1`,
    ),
    queryRows(
      db,
      sql`SELECT reply_code, enhanced_status, left(reply_text, 120) AS text, count(*)::int AS n
          FROM attempts WHERE started_at > ${since} AND outcome = 'deferred'
          GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1 LIMIT 5`,
    ),
    // Recipients stay until their message is purged, so the join finds queued_at for the window.
    queryRows(
      db,
      sql`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::float8 AS p50,
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::float8 AS p95, count(*)::int AS n
          FROM (SELECT greatest(0, extract(epoch FROM a.started_at - r.queued_at) + a.duration_ms / 1000.0) AS s
                FROM attempts a JOIN recipients r ON r.id = a.recipient_id
                WHERE a.started_at > ${since} AND a.outcome IN ('delivered', 'failed')) t`,
    ),
    queryRows(
      db,
      sql`SELECT member,
                 count(*) FILTER (WHERE outcome = 'delivered')::int AS delivered,
                 count(*) FILTER (WHERE outcome = 'deferred')::int AS deferred,
                 count(*) FILTER (WHERE outcome = 'failed')::int AS failed
          FROM attempts WHERE started_at > ${since} GROUP BY 1 ORDER BY 1`,
    ),
  ]);
  return {
    perMinute: minutes.map((r) => ({ minute: date(r.minute), delivered: num(r.delivered), deferred: num(r.deferred), failed: num(r.failed) })),
    topDeferrals: deferrals.map((r) => ({ code: num(r.reply_code), enhanced: strOrNull(r.enhanced_status), text: str(r.text), count: num(r.n) })),
    queueTime: { p50: numOrNull(timing[0]?.p50), p95: numOrNull(timing[0]?.p95), finished: num(timing[0]?.n ?? 0) },
    perMember: members.map((r) => ({ member: str(r.member), delivered: num(r.delivered), deferred: num(r.deferred), failed: num(r.failed) })),
  };
}

/** Everything the overview shows (the WebAdmin page and GET /api/v1/overview read the same). */
export interface Overview {
  now: Date;
  windowMinutes: number;
  /** Recipients per state right now (done ones until purged). */
  counts: Record<string, number>;
  /** Queue depth per state, one sample per slot; slots with no sample (no sampler running) are absent. */
  queueDepth: { sampleSeconds: number; samples: QueueDepthSample[] };
  recent: RecentFigures;
}

export async function loadOverview(db: Executor, now: Date, windowMinutes = 60): Promise<Overview> {
  const since = new Date(now.getTime() - windowMinutes * 60_000);
  const [counts, samples, recent] = await Promise.all([queueStateCounts(db), queueDepthHistory(db, since, now), recentFigures(db, now, windowMinutes * 60)]);
  return { now, windowMinutes, counts, queueDepth: { sampleSeconds: QUEUE_DEPTH_SAMPLE_SECONDS, samples }, recent };
}
