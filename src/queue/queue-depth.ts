// What waits in the queue, per state and domain: one scan, read by the cluster-wide gauges
// (src/metrics/queue-gauges.ts, on /metrics) and the depth history (depth-history.ts).
import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { num, queryRows, str, ts } from "../db/rows.ts";

export interface QueueDepth {
  /** queued (never tried), deferred (tried, waiting for its next attempt), held. */
  state: "queued" | "deferred" | "held";
  domain: string;
  recipients: number;
  oldestAgeSeconds: number;
}

/** One scan of the waiting recipients, grouped by state and domain. */
export async function readQueueDepth(db: Executor, now: Date): Promise<QueueDepth[]> {
  const rows = await queryRows(
    db,
    sql`SELECT CASE WHEN state = 'held' THEN 'held' WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END AS state,
               domain, count(*)::int AS n,
               greatest(0, extract(epoch FROM ${ts(now)} - min(queued_at)))::float8 AS oldest
        FROM recipients WHERE state IN ('queued', 'held')
        GROUP BY 1, 2`,
  );
  return rows.map((r) => ({ state: str(r.state) as QueueDepth["state"], domain: str(r.domain), recipients: num(r.n), oldestAgeSeconds: num(r.oldest) }));
}
