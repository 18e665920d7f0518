import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { num, queryRows, str } from "../db/rows.ts";

/** Process counters plus queue depth per state, read live from the database. */
export async function renderMetrics(ctx: AppContext): Promise<string> {
  try {
    const rows = await queryRows(ctx.db, sql`SELECT state, count(*)::int AS n FROM recipients WHERE state IN ('queued', 'held') GROUP BY state`);
    const byState = new Map(rows.map((r) => [str(r.state), num(r.n)]));
    for (const state of ["queued", "held"]) {
      ctx.metrics.set("mailcluster_queue_recipients", "Recipients waiting in the queue, by state", { state }, byState.get(state) ?? 0);
    }
  } catch {
    // The counters are still worth serving when the database is down.
  }
  return ctx.metrics.render();
}
