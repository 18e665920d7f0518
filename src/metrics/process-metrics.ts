import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { num, queryRows, str } from "../db/rows.ts";

/**
 * How late a timer set for now fires: the time the event loop needed to get to it. Measured
 * at scrape time rather than by a background sampler, so a member runs no timer for it and a
 * scrape under load sees the load (what the SMTP and HTTP callbacks wait for).
 */
export async function eventLoopLagSeconds(): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  // setTimeout(…, 0) waits at least about 1 ms on every runtime: that much is not lag.
  return Math.max(0, performance.now() - t0 - 1) / 1000;
}

const started = Date.now();

/** Per-member figures: they are summed or compared across members, so each exports its own. */
export async function setProcessFigures(ctx: Pick<AppContext, "metrics" | "config" | "cluster" | "storage" | "db">): Promise<void> {
  const m = ctx.metrics;
  m.set("mailcluster_event_loop_lag_seconds", "Event-loop delay measured when this scrape ran", {}, await eventLoopLagSeconds());
  if (typeof process !== "undefined" && typeof process.memoryUsage === "function") {
    const mem = process.memoryUsage();
    m.set("process_resident_memory_bytes", "Resident memory of this member's process", {}, mem.rss);
    m.set("mailcluster_heap_used_bytes", "JavaScript heap in use", {}, mem.heapUsed);
  }
  m.set("process_start_time_seconds", "Start of this member's process (module load), Unix time", {}, Math.round(started / 1000));
  m.replace("mailcluster_member_info", "This member: name, roles and current submit mode (always 1)", [
    {
      labels: { member: ctx.config.memberName, roles: ctx.config.roles.join(","), submit_mode: ctx.cluster?.submitMode ?? ctx.config.submitMode },
      value: 1,
    },
  ]);
  if (ctx.storage.capabilities.multipleConnections) await setPoolFigures(ctx);
}

/**
 * The database's own view of this member's pool: its connections by state in
 * pg_stat_activity, found by the application_name the storage adapter sets ("mailcluster
 * NAME"). "active" is the pool in use (this scrape's own query excluded).
 */
async function setPoolFigures(ctx: Pick<AppContext, "metrics" | "config" | "db">): Promise<void> {
  const app = `mailcluster ${ctx.config.memberName}`.slice(0, 63);
  const rows = await queryRows(
    ctx.db,
    sql`SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = ${app} AND pid <> pg_backend_pid() GROUP BY 1`,
  );
  const byState = new Map(rows.map((r) => [str(r.state), num(r.n)]));
  const states = new Set(["active", "idle", "idle in transaction", ...byState.keys()]);
  ctx.metrics.replace(
    "mailcluster_db_connections",
    "This member's database connections by state, as pg_stat_activity reports them",
    [...states].map((state) => ({ labels: { state }, value: byState.get(state) ?? 0 })),
  );
}
