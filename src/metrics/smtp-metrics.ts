import type { Metrics } from "./registry.ts";

/** Upper bounds in seconds, from a pipelined LAN client to a slow sender near the DATA timeout. */
export const SMTP_TRANSACTION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

type Callback = (err?: Error | null, message?: string) => void;

interface Hooks<A, S extends object, D> {
  onMailFrom(address: A, session: S, callback: (err?: Error | null) => void): void;
  onData(stream: D, session: S, callback: Callback): void;
}

/** "accepted", or the reply code of the refusal ("552", "451"...). */
function resultOf(err: Error | null | undefined): string {
  if (!err) return "accepted";
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === "number" ? String(code) : "error";
}

/**
 * Wraps the MAIL FROM and DATA hooks of the SMTP frontend so that every transaction that reaches
 * the end of DATA is timed from its accepted MAIL FROM to the final reply (rule checks and the
 * commit included). Hooks stay unaware of it; transactions abandoned before DATA are not timed.
 * Real elapsed time (performance.now), not the injected clock: this is a measurement.
 */
export function timeTransactions<A, S extends object, D>(metrics: Metrics, hooks: Hooks<A, S, D>): Hooks<A, S, D> {
  const started = new WeakMap<S, number>();
  return {
    onMailFrom(address, session, callback) {
      hooks.onMailFrom(address, session, (err) => {
        if (!err) started.set(session, performance.now());
        callback(err);
      });
    },
    onData(stream, session, callback) {
      hooks.onData(stream, session, (err, message) => {
        const t0 = started.get(session);
        started.delete(session);
        if (t0 !== undefined) {
          metrics.observe(
            "mailcluster_smtp_transaction_duration_seconds",
            "SMTP transactions from accepted MAIL FROM to the reply after DATA, by result",
            { result: resultOf(err) },
            (performance.now() - t0) / 1000,
            SMTP_TRANSACTION_BUCKETS,
          );
        }
        callback(err, message);
      });
    },
  };
}
