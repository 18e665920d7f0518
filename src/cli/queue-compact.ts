import type { QueueItem } from "../queue/admin.ts";

/**
 * The queue the way `postqueue -p` shows it: one line per message (id, size, arrival, sender),
 * its recipients underneath, each after its last reply in parentheses. After the id, `*` marks
 * a message being delivered right now and `!` one whose recipients are all held, as in Postfix.
 */
export function formatQueueCompact(rows: QueueItem[], now: Date): string[] {
  if (rows.length === 0) return ["Mail queue is empty"];
  const messages = new Map<number, QueueItem[]>();
  for (const r of rows) {
    const group = messages.get(r.messageId);
    if (group) group.push(r);
    else messages.set(r.messageId, [r]);
  }
  const indent = " ".repeat(42);
  const lines = ["-Queue ID- --Size-- ----Arrival Time----  -Sender/Recipient-------"];
  let bytes = 0;
  for (const [id, rcpts] of messages) {
    const size = rcpts[0].sizeBytes;
    bytes += size ?? 0;
    const arrival = rcpts.reduce((min, r) => (r.queuedAt < min ? r.queuedAt : min), rcpts[0].queuedAt);
    const flag = rcpts.some((r) => r.lockedUntil !== null && r.lockedUntil > now && r.state === "queued") ? "*" : rcpts.every((r) => r.state === "held") ? "!" : "";
    lines.push(`${`${id}${flag}`.padEnd(10)} ${String(size ?? "?").padStart(8)} ${arrivalTime(arrival)}  ${rcpts[0].sender || "<>"}`);
    for (const r of rcpts) {
      const why = reason(r);
      if (why) lines.push(`${indent}(${why})`);
      lines.push(`${indent}${r.address}`);
    }
    lines.push("");
  }
  const kbytes = Math.ceil(bytes / 1024);
  const n = messages.size;
  lines.push(`-- ${kbytes} Kbytes in ${n} ${n === 1 ? "Request" : "Requests"}.`);
  return lines;
}

/** What happened to a recipient so far: its state when not simply queued, then the last reply. */
function reason(r: QueueItem): string {
  const reply = r.lastCode !== null ? [r.lastCode, r.lastStatus, r.lastText].filter((x) => x !== null && x !== "").join(" ") : "";
  const state = r.state === "queued" ? "" : r.state;
  return [state, reply].filter(Boolean).join(": ");
}

/** UTC, to the second, fixed width (20 characters). */
function arrivalTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ") + "Z";
}
