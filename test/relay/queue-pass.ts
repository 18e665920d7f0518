import type { AppContext } from "../../src/app-context.ts";
import type { Transport } from "../../src/delivery/transport.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { type AttemptResult, recordOutcomes, type RecordOutcomesSummary } from "../../src/queue/record-outcomes.ts";
import { policyFromSettings } from "../../src/queue/retry-schedule.ts";
import { groupByMessage } from "../../src/queue/worker.ts";

/**
 * One pass of what the queue worker does (claim due recipients, deliver each message's group
 * through the transport, record the outcomes), synchronously, so tests drive time by hand.
 */
export async function queuePass(ctx: AppContext, transport: Transport): Promise<RecordOutcomesSummary & { results: AttemptResult[] }> {
  const claimed = await claimRecipients(ctx.db, { member: ctx.config.memberName, includePool: true, limit: 500, leaseMs: 60_000, now: ctx.clock.now() });
  const results: AttemptResult[] = [];
  for (const group of groupByMessage(claimed)) {
    const startedAt = ctx.clock.now();
    const t0 = performance.now();
    const answers = await transport(ctx, group);
    const byId = new Map(answers.map((a) => [a.recipientId, a.outcome]));
    for (const r of group) {
      const outcome = byId.get(r.id);
      if (!outcome) throw new Error(`transport left recipient ${r.address} unanswered`);
      results.push({ recipient: r, outcome, startedAt, durationMs: performance.now() - t0 });
    }
  }
  const summary = await recordOutcomes(ctx.db, { member: ctx.config.memberName, results, now: ctx.clock.now(), policy: policyFromSettings(ctx.settings()), random: ctx.random });
  return { ...summary, results };
}
