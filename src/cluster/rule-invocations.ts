import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { num, pgArray, queryRows, str, strOrNull } from "../db/rows.ts";

export interface DoneMessage {
  id: number;
  kind: string;
  submittedBy: string;
  processor: string | null;
  ruleInvocations: number;
}

/**
 * Report messages that just left the queue with how often server-/cluster-wide rules ran for
 * them. More than once means the message was processed twice (a backend in `locally` mode
 * relaying through forwarding server "*" to a frontend that enqueued it again); `remotely`
 * avoids it, and this metric and log field make the difference visible.
 */
export async function reportDoneMessages(ctx: AppContext, ids: readonly number[]): Promise<DoneMessage[]> {
  if (ids.length === 0) return [];
  const rows = await queryRows(
    ctx.db,
    sql`SELECT id, kind, submitted_by, processor, rule_invocations FROM messages WHERE id = ANY(${pgArray(ids)}::bigint[]) ORDER BY id`,
  );
  return reportDone(
    ctx,
    rows.map((r) => ({
      id: num(r.id),
      kind: str(r.kind),
      submittedBy: str(r.submitted_by),
      processor: strOrNull(r.processor),
      ruleInvocations: num(r.rule_invocations),
    })),
  );
}

/**
 * The done messages of a recorded batch, from what the claim returned (nothing is read again).
 * The fields reported never change after submission.
 */
export function doneFromClaim(doneIds: readonly number[], claimed: ReadonlyArray<Omit<DoneMessage, "id"> & { messageId: number }>): DoneMessage[] {
  const byId = new Map(claimed.map((c) => [c.messageId, c]));
  return doneIds.flatMap((id) => {
    const c = byId.get(id);
    return c ? [{ id, kind: c.kind, submittedBy: c.submittedBy, processor: c.processor, ruleInvocations: c.ruleInvocations }] : [];
  });
}

/** Metrics and the "message done" log line for messages that just left the queue. */
export function reportDone(ctx: AppContext, done: DoneMessage[]): DoneMessage[] {
  for (const m of done) {
    ctx.metrics.inc("mailcluster_messages_done_total", "Messages that left the queue, by how often cluster rules ran for them", {
      rule_invocations: m.ruleInvocations > 2 ? "3+" : String(m.ruleInvocations),
    });
    ctx.metrics.inc("mailcluster_done_message_rule_invocations_total", "Server-/cluster-wide rule runs summed over messages that left the queue", {}, m.ruleInvocations);
    if (m.ruleInvocations > 1) {
      ctx.metrics.inc("mailcluster_messages_processed_twice_total", "Messages whose cluster rules ran more than once (double processing)");
    }
    ctx.logger.info(
      { messageId: m.id, kind: m.kind, submittedBy: m.submittedBy, processor: m.processor, ruleInvocations: m.ruleInvocations, member: ctx.config.memberName },
      "message done",
    );
  }
  return done;
}
