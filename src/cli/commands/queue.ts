import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import {
  applyQueueAction,
  listQueue,
  QUEUE_ACTIONS,
  QueueAdminError,
  type QueueAction,
  type QueueStateFilter,
  type QueueTarget,
  showQueueMessage,
} from "../../queue/admin.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

const STATES: readonly QueueStateFilter[] = ["pending", "queued", "held", "delivered", "failed", "all"];

export function parseQueueId(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) throw new QueueAdminError(`invalid queue id "${raw}"`);
  return n;
}

/** Exactly one of an id or --domain. */
export function queueTarget(id: string | undefined, domain: string | undefined): QueueTarget {
  if (id !== undefined && domain !== undefined) throw new QueueAdminError("give a queue id or --domain, not both");
  if (id !== undefined) return { messageId: parseQueueId(id) };
  if (domain !== undefined && domain.trim() !== "") return { domain };
  throw new QueueAdminError("give a queue id or --domain DOMAIN");
}

export async function queueList(db: Executor, o: { state?: string; domain?: string; limit?: string; json?: boolean }, out?: Out): Promise<void> {
  const state = o.state === undefined ? "pending" : STATES.find((s) => s === o.state);
  if (state === undefined) throw new QueueAdminError(`--state must be one of ${STATES.join(", ")} (got "${o.state}")`);
  const limit = o.limit === undefined ? 200 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new QueueAdminError(`--limit must be 1-10000 (got "${o.limit}")`);
  const items = await listQueue(db, { state, domain: o.domain, limit });
  printRows(
    items.map((i) => ({
      id: i.messageId,
      recipient: i.address,
      sender: i.sender || "<>",
      state: i.state,
      attempts: i.attempts,
      queued: i.queuedAt,
      next_attempt: i.nextAttemptAt,
      locked_by: i.lockedBy,
      last_reply: i.lastCode ? `${i.lastCode} ${i.lastStatus ?? ""} ${i.lastText ?? ""}`.trim() : null,
    })),
    ["id", "recipient", "sender", "state", "attempts", "queued", "next_attempt", "locked_by", "last_reply"],
    Boolean(o.json),
    out,
  );
}

export async function queueShow(db: Executor, rawId: string, json: boolean, out: Out = (l) => console.log(l)): Promise<void> {
  const id = parseQueueId(rawId);
  const detail = await showQueueMessage(db, id);
  if (!detail) throw new QueueAdminError(`no queue message ${id}`, 404);
  if (json) {
    out(JSON.stringify(detail, null, 2));
    return;
  }
  const m = detail.message;
  printRows(
    Object.entries(m).map(([key, value]) => ({ field: key, value: value instanceof Date ? value.toISOString() : value === null ? "" : String(value) })),
    ["field", "value"],
    false,
    out,
  );
  out("recipients:");
  printRows(
    detail.recipients.map((r) => ({ id: r.id, address: r.address, state: r.state, attempts: r.attempts, next_attempt: r.nextAttemptAt, last_reply: r.lastCode ? `${r.lastCode} ${r.lastStatus ?? ""} ${r.lastText ?? ""}` : null })),
    ["id", "address", "state", "attempts", "next_attempt", "last_reply"],
    false,
    out,
  );
  out("attempts:");
  printRows(
    detail.attempts.map((a) => ({ at: a.startedAt, address: a.address, member: a.member, outcome: a.outcome, reply: `${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}`, ms: a.durationMs })),
    ["at", "address", "member", "outcome", "reply", "ms"],
    false,
    out,
  );
}

export async function queueAction(db: Executor, action: QueueAction, target: QueueTarget, json: boolean, out?: Out): Promise<void> {
  const r = await applyQueueAction(db, action, target, new Date(), "admin:cli");
  const what = "messageId" in target ? `queue message ${target.messageId}` : `domain ${target.domain}`;
  printResult({ action, ...target, ...r }, `${action} ${what}: ${r.recipients} recipient(s) of ${r.messages} message(s)`, json, out);
}

const ACTION_HELP: Record<QueueAction, string> = {
  retry: "make pending recipients due now",
  hold: "keep recipients from being delivered until released",
  release: "put held recipients back, due now",
  bounce: "fail pending recipients (5.0.0 bounced by administrator); the sender gets a DSN",
  delete: "remove from the queue without notice",
};

export function registerQueue(program: Command): void {
  const cmd = program.command("queue").description("the delivery queue");
  cmd
    .command("list")
    .option("--state <state>", `one of ${STATES.join(", ")}`, "pending")
    .option("--domain <domain>", "only recipients in this domain")
    .option("--limit <n>", "at most this many rows", "200")
    .option("--json", "print JSON")
    .action((o: { state?: string; domain?: string; limit?: string; json?: boolean }) => withDatabase({}, (s) => queueList(s.db, o)));
  cmd
    .command("show <id>")
    .description("a queue message with its recipients and attempts")
    .option("--json", "print JSON")
    .action((id: string, o: { json?: boolean }) => withDatabase({}, (s) => queueShow(s.db, id, Boolean(o.json))));
  for (const action of QUEUE_ACTIONS) {
    cmd
      .command(`${action} [id]`)
      .description(`${ACTION_HELP[action]} (by queue id or --domain)`)
      .option("--domain <domain>", "every pending recipient in this domain")
      .option("--json", "print JSON")
      .action(async (id: string | undefined, o: { domain?: string; json?: boolean }) => {
        const target = queueTarget(id, o.domain);
        await withDatabase({}, (s) => queueAction(s.db, action, target, Boolean(o.json)));
      });
  }
}
