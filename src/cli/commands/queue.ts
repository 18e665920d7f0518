import type { Command } from "commander";
import { QUEUE_ACTIONS, QueueAdminError, type QueueAction, type QueueStateFilter, type QueueTarget } from "../../queue/admin.ts";
import { withTarget } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";
import { formatQueueCompact } from "../queue-compact.ts";
import { type QueueSource, queueSource } from "../queue-source.ts";

const STATES: readonly QueueStateFilter[] = ["pending", "queued", "held", "delivered", "failed", "all"];

/** Whole-queue bounce and delete lose mail: they run only with --yes. */
const NEEDS_CONFIRMATION: readonly QueueAction[] = ["bounce", "delete"];

export function parseQueueId(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) throw new QueueAdminError(`invalid queue id "${raw}"`);
  return n;
}

export interface TargetOptions {
  domain?: string;
  all?: boolean;
  yes?: boolean;
}

/** Exactly one of an id, --domain or --all; a wildcard domain is refused (it would match nothing). */
export function queueTarget(id: string | undefined, o: TargetOptions, action?: QueueAction): QueueTarget {
  const given = [id !== undefined, o.domain !== undefined, Boolean(o.all)].filter(Boolean).length;
  if (given > 1) throw new QueueAdminError("give one of a queue id, --domain or --all, not several");
  if (id !== undefined) return { messageId: parseQueueId(id) };
  if (o.all) {
    if (action && NEEDS_CONFIRMATION.includes(action) && !o.yes) {
      throw new QueueAdminError(`queue ${action} --all ${action === "delete" ? "removes every pending recipient without notice" : "fails every pending recipient and sends DSNs"}; add --yes to confirm`);
    }
    return { all: true };
  }
  if (o.domain !== undefined) {
    const domain = o.domain.trim();
    if (domain.includes("*")) throw new QueueAdminError(`--domain "${o.domain}" is not a domain: use --all for every pending recipient`);
    if (domain !== "") return { domain };
  }
  throw new QueueAdminError("give a queue id, --domain DOMAIN or --all");
}

export interface QueueListOptions {
  state?: string;
  domain?: string;
  limit?: string;
  json?: boolean;
  table?: boolean;
}

/**
 * The compact listing by default (like `postqueue -p`), the full table with --table, the
 * table's rows as JSON with --json (their shape is what scripts rely on: keep it).
 * --domain '*' is every domain, like no --domain.
 */
export async function queueList(q: QueueSource, o: QueueListOptions, out: Out = (l) => console.log(l), now = new Date()): Promise<void> {
  const state = o.state === undefined ? "pending" : STATES.find((s) => s === o.state);
  if (state === undefined) throw new QueueAdminError(`--state must be one of ${STATES.join(", ")} (got "${o.state}")`);
  const limit = o.limit === undefined ? 200 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new QueueAdminError(`--limit must be 1-10000 (got "${o.limit}")`);
  if (o.json && o.table) throw new QueueAdminError("give --json or --table, not both");
  const domain = o.domain === undefined || o.domain.trim() === "*" ? undefined : o.domain.trim();
  if (domain !== undefined && (domain === "" || domain.includes("*"))) throw new QueueAdminError(`--domain "${o.domain}" is not a domain ("*" lists every domain)`);
  const items = await q.list({ state, domain, limit });
  if (!o.json && !o.table) {
    for (const line of formatQueueCompact(items, now)) out(line);
    return;
  }
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

export async function queueShow(q: QueueSource, rawId: string, json: boolean, out: Out = (l) => console.log(l)): Promise<void> {
  const id = parseQueueId(rawId);
  const detail = await q.show(id);
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
    detail.attempts.map((a) => ({ at: a.startedAt, address: a.address, member: a.member, outcome: a.outcome, class: a.bounceClass ?? "", reply: `${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}`, ms: a.durationMs })),
    ["at", "address", "member", "outcome", "class", "reply", "ms"],
    false,
    out,
  );
}

/** The raw message as it was queued, byte for byte (like `postcat -bh`). */
export async function queueContent(q: QueueSource, rawId: string, write: (bytes: Uint8Array) => void): Promise<void> {
  const id = parseQueueId(rawId);
  const content = await q.content(id);
  if (!content) throw new QueueAdminError(`no content for queue message ${id}: no such message, or its body was purged after delivery`, 404);
  write(content);
}

function describe(target: QueueTarget): string {
  if ("all" in target) return "the whole queue";
  return "messageId" in target ? `queue message ${target.messageId}` : `domain ${target.domain}`;
}

export async function queueAction(q: QueueSource, action: QueueAction, target: QueueTarget, json: boolean, out?: Out): Promise<void> {
  const r = await q.act(action, target);
  printResult({ action, ...target, ...r }, `${action} ${describe(target)}: ${r.recipients} recipient(s) of ${r.messages} message(s)`, json, out);
}

export async function queueFlush(q: QueueSource, json: boolean, out?: Out): Promise<void> {
  const r = await q.flush();
  printResult({ action: "flush", ...r }, `flush: ${r.recipients} recipient(s) of ${r.messages} message(s) due now`, json, out);
}

const ACTION_HELP: Record<QueueAction, string> = {
  retry: "make pending recipients due now",
  hold: "keep recipients from being delivered until released",
  release: "put held recipients back, due now",
  bounce: "fail pending recipients (5.0.0 bounced by administrator); the sender gets a DSN",
  delete: "remove from the queue without notice",
};

function writeStdout(bytes: Uint8Array): void {
  process.stdout.write(bytes);
}

export function registerQueue(program: Command): void {
  const cmd = program.command("queue").description("the delivery queue");
  cmd
    .command("list")
    .description("one line per message and its recipients underneath, like postqueue -p (--table: one row per recipient)")
    .option("--state <state>", `one of ${STATES.join(", ")}`, "pending")
    .option("--domain <domain>", "only recipients in this domain (\"*\": every domain)")
    .option("--limit <n>", "at most this many recipients", "200")
    .option("--table", "one table row per recipient, every column")
    .option("--json", "print the table's rows as JSON")
    .action((o: QueueListOptions) => withTarget((t) => queueList(queueSource(t), o)));
  cmd
    .command("show <id>")
    .description("a queue message with its recipients and attempts (--content: the raw message, like postcat)")
    .option("--content", "print the raw message instead (RFC 5322, as queued)")
    .option("--json", "print JSON")
    .action((id: string, o: { json?: boolean; content?: boolean }) => {
      if (o.content && o.json) throw new QueueAdminError("give --content or --json, not both");
      return withTarget((t) => (o.content ? queueContent(queueSource(t), id, writeStdout) : queueShow(queueSource(t), id, Boolean(o.json))));
    });
  cmd
    .command("flush")
    .description("make every queued recipient due now, like postqueue -f (held ones stay held)")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withTarget((t) => queueFlush(queueSource(t), Boolean(o.json))));
  for (const action of QUEUE_ACTIONS) {
    const sub = cmd
      .command(`${action} [id]`)
      .description(`${ACTION_HELP[action]} (by queue id, --domain or --all)`)
      .option("--domain <domain>", "every pending recipient in this domain")
      .option("--all", `every pending recipient of the queue${NEEDS_CONFIRMATION.includes(action) ? " (with --yes)" : ""}`);
    if (NEEDS_CONFIRMATION.includes(action)) sub.option("--yes", "confirm --all");
    sub.option("--json", "print JSON").action(async (id: string | undefined, o: TargetOptions & { json?: boolean }) => {
      const target = queueTarget(id, o, action);
      await withTarget((t) => queueAction(queueSource(t), action, target, Boolean(o.json)));
    });
  }
}
