import type { AppContext } from "../app-context.ts";
import type { QueueDepth } from "../queue/queue-depth.ts";
import type { Metrics } from "./registry.ts";

/** Beyond this many domains the rest is summed under domain="(other)": label sets stay bounded. */
export const MAX_QUEUE_DOMAINS = 100;
export const OTHER_DOMAINS = "(other)";

const DEPTH = "mailcluster_queue_recipients";
const DEPTH_HELP = "Recipients waiting in the queue (cluster-wide, exported by one member), by state and domain";
const OLDEST = "mailcluster_queue_oldest_age_seconds";
const OLDEST_HELP = "Age of the oldest waiting recipient (cluster-wide, exported by one member), by state";

/**
 * Whether this member exports the cluster-wide figures. Each member is scraped on its own, so
 * if every one exported the queue depth, sum() in Prometheus would multiply it by the number of
 * members: only the live member whose name sorts first does. Its view comes with each
 * heartbeat, so a hand-over can overlap or leave a gap of one heartbeat interval. A member with
 * no cluster view (tests, tools) is alone and exports.
 */
export function exportsClusterFigures(ctx: Pick<AppContext, "cluster" | "config">): boolean {
  if (!ctx.cluster) return true;
  const live = ctx.cluster
    .live()
    .map((m) => m.name)
    .sort();
  return live.length > 0 && live[0] === ctx.config.memberName;
}

/** Sets (exporter) or removes (every other member) the cluster-wide queue gauges. */
export function setQueueGauges(metrics: Metrics, depth: readonly QueueDepth[] | null): void {
  if (depth === null) {
    metrics.remove(DEPTH);
    metrics.remove(OLDEST);
    return;
  }
  const perDomain = new Map<string, number>();
  for (const d of depth) perDomain.set(d.domain, (perDomain.get(d.domain) ?? 0) + d.recipients);
  const shown = new Set(
    [...perDomain.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, MAX_QUEUE_DOMAINS)
      .map(([domain]) => domain),
  );
  const samples = new Map<string, { labels: { state: string; domain: string }; value: number }>();
  const oldest = new Map<string, number>([
    ["queued", 0],
    ["deferred", 0],
    ["held", 0],
  ]);
  for (const d of depth) {
    const domain = shown.has(d.domain) ? d.domain : OTHER_DOMAINS;
    const key = `${d.state} ${domain}`;
    const s = samples.get(key) ?? { labels: { state: d.state, domain }, value: 0 };
    s.value += d.recipients;
    samples.set(key, s);
    oldest.set(d.state, Math.max(oldest.get(d.state) ?? 0, d.oldestAgeSeconds));
  }
  metrics.replace(DEPTH, DEPTH_HELP, [...samples.values()]);
  metrics.replace(
    OLDEST,
    OLDEST_HELP,
    [...oldest.entries()].map(([state, value]) => ({ labels: { state }, value: Math.round(value * 1000) / 1000 })),
  );
}
