import type { AppContext } from "../app-context.ts";
import { setProcessFigures } from "../metrics/process-metrics.ts";
import { exportsClusterFigures, setQueueGauges } from "../metrics/queue-gauges.ts";
import { readQueueDepth } from "../queue/queue-depth.ts";
import { coerceError } from "../util/errors.ts";

/**
 * /metrics: this member's counters and histograms, its process figures, and, on the one member
 * that exports them, the cluster-wide queue gauges read live from the database.
 */
export async function renderMetrics(ctx: AppContext): Promise<string> {
  const exporter = exportsClusterFigures(ctx);
  ctx.metrics.set("mailcluster_cluster_figures_exporter", "1 on the member that exports the cluster-wide gauges, 0 elsewhere", {}, exporter ? 1 : 0);
  try {
    setQueueGauges(ctx.metrics, exporter ? await readQueueDepth(ctx.db, ctx.clock.now()) : null);
  } catch (err) {
    // The counters are still worth serving when the database is down; stale gauges are not.
    setQueueGauges(ctx.metrics, null);
    ctx.logger.debug({ err: coerceError(err).message }, "metrics: queue gauges unavailable");
  }
  // The process figures come first inside; only the pool figures need the database.
  await setProcessFigures(ctx).catch((err: unknown) => ctx.logger.debug({ err: coerceError(err).message }, "metrics: pool figures unavailable"));
  return ctx.metrics.render();
}
