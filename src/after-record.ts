import type { AppContext } from "./app-context.ts";
import { doneFromClaim, reportDone } from "./cluster/rule-invocations.ts";
import type { ClaimedRecipient } from "./domain/delivery.ts";
import { runDsnPasses } from "./dsn/generate.ts";
import { observeDeliveries } from "./metrics/delivery-metrics.ts";
import type { AttemptResult, RecordOutcomesSummary } from "./queue/record-outcomes.ts";

/**
 * What follows each batch the member's queue worker recorded (its onRecorded hook), in order:
 *
 * 1. the delivery metrics of the attempts, and the attempts by result;
 * 2. the messages that just left the queue, with how often cluster rules ran for them;
 * 3. when a bounce is sent: failure DSNs right away for the messages that became done with this
 *    batch (every recipient final). Delay notices are not sent here: the member's DSN timer
 *    sends those, and catches the failures of messages finished elsewhere (an admin bounce, a
 *    member that crashed before this step). Which recipients a DSN reports (NOTIFY, the null
 *    sender, suppressions) is runFailureDsnPass's decision (src/dsn/generate.ts).
 *
 * A DSN pass logs its own errors: this step never fails the worker's batch.
 */
export async function afterRecord(ctx: AppContext, summary: RecordOutcomesSummary, results: readonly AttemptResult[], claimed: readonly ClaimedRecipient[]): Promise<void> {
  observeDeliveries(ctx, summary, results);
  for (const r of summary.recorded) {
    ctx.metrics.inc("mailcluster_delivery_attempts_total", "Delivery attempts by result", { result: r.state === "queued" ? "deferred" : r.state });
  }
  reportDone(ctx, doneFromClaim(summary.doneMessageIds, claimed));
  if (summary.doneMessageIds.length > 0) await runDsnPasses(ctx, { messageIds: summary.doneMessageIds, delay: false });
}
