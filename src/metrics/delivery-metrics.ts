import type { AppContext } from "../app-context.ts";
import { bounceClassOf } from "../domain/bounce-class.ts";
import type { AttemptResult, RecordOutcomesSummary } from "../queue/record-outcomes.ts";
import type { Labels } from "./registry.ts";

/** Upper bounds in seconds: a local store takes milliseconds, a slow remote MX up to minutes. */
export const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;
/** Submit → final outcome: from immediate delivery to the five-day queue lifetime. */
export const QUEUE_TIME_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400, 43200, 86400, 259200, 432000] as const;

export type DeliveryKind = "local" | "relay";

/** RFC 3463 class (2, 4, 5) and subject ("5.1": addressing, "4.4": network...) of a reply. */
export function statusClass(enhanced: string | null | undefined): { status_class: string; status_subject: string } {
  const m = enhanced ? /^([245])\.(\d{1,3})\.\d{1,3}$/.exec(enhanced) : null;
  return m ? { status_class: m[1], status_subject: `${m[1]}.${m[2]}` } : { status_class: "none", status_subject: "none" };
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

/**
 * Figures of one recorded batch, called where the worker reports it (onRecorded): attempt
 * duration and outcome per recipient, and time in queue for the recipients that just became
 * final. Results whose lease was lost were discarded, so they are not counted here: the
 * member that owns them now records its own.
 *
 * Local or relay is read from the directory, the same test the delivery handler makes.
 */
export function observeDeliveries(ctx: Pick<AppContext, "metrics" | "directory" | "clock">, summary: RecordOutcomesSummary, results: readonly AttemptResult[]): void {
  const byId = new Map(results.map((r) => [r.recipient.id, r]));
  const now = ctx.clock.now().getTime();
  // Counted per distinct label set, and each histogram series found once: a batch of fifty
  // recipients has a handful of label sets, not fifty.
  const counters = new Map<string, { name: string; help: string; labels: Labels; n: number }>();
  const count = (key: string, name: string, help: string, labels: () => Labels) => {
    const c = counters.get(key);
    if (c) c.n += 1;
    else counters.set(key, { name, help, labels: labels(), n: 1 });
  };
  const observers = new Map<string, (value: number) => void>();
  const observe = (name: string, help: string, kind: DeliveryKind, outcome: string, buckets: readonly number[], value: number) => {
    const key = `${name}\0${kind}\0${outcome}`;
    let o = observers.get(key);
    if (!o) {
      o = ctx.metrics.observer(name, help, { kind, outcome }, buckets);
      observers.set(key, o);
    }
    o(value);
  };
  for (const rec of summary.recorded) {
    const res = byId.get(rec.id);
    if (!res) continue;
    const kind: DeliveryKind = ctx.directory.isLocalDomain(domainOf(res.recipient.address)) ? "local" : "relay";
    const outcome = res.outcome.kind;
    observe("mailcluster_delivery_attempt_duration_seconds", "Duration of delivery attempts, per recipient, by kind and outcome", kind, outcome, ATTEMPT_BUCKETS, Math.max(0, res.durationMs) / 1000);
    // What was recorded, which may differ from the attempt (a deferral past the lifetime fails with 4.4.7).
    const recorded = rec.state === "queued" ? "deferred" : rec.state;
    count(`o\0${kind}\0${recorded}\0${rec.reply.enhanced ?? ""}`, "mailcluster_delivery_outcomes_total", "Recorded delivery outcomes by kind, outcome and RFC 3463 status class", () => ({
      kind,
      outcome: recorded,
      ...statusClass(rec.reply.enhanced),
    }));
    // The attempt's own reply, as stored on its attempts row (bounce_class).
    const bounceClass = bounceClassOf(res.outcome);
    if (bounceClass !== null) {
      count(`b\0${kind}\0${outcome}\0${bounceClass}`, "mailcluster_delivery_bounces_total", "Deferred and failed delivery attempts by kind, outcome and bounce class", () => ({ kind, outcome, class: bounceClass }));
    }
    if (rec.state !== "queued") {
      observe("mailcluster_queue_time_seconds", "Time from submission to the final outcome of a recipient", kind, rec.state, QUEUE_TIME_BUCKETS, Math.max(0, now - res.recipient.queuedAt.getTime()) / 1000);
    }
  }
  for (const c of counters.values()) ctx.metrics.inc(c.name, c.help, c.labels, c.n);
}
