import type { Executor } from "../db/db.ts";
import { date, dateOrNull, num, numOrNull, str, strOrNull } from "../db/rows.ts";
import {
  applyQueueAction,
  flushQueue,
  listQueue,
  type QueueAction,
  type QueueItem,
  type QueueListParams,
  type QueueMessageDetail,
  type QueueOpResult,
  type QueueTarget,
  showQueueMessage,
} from "../queue/admin.ts";
import { readMessageBody } from "../queue/body.ts";
import type { AdminClient } from "./admin-client.ts";
import type { Target } from "./context.ts";
import { type Json, items, list, obj } from "./json-fields.ts";

/** The queue as the CLI sees it: the database, or a running member's admin API (same answers). */
export interface QueueSource {
  list(p: QueueListParams): Promise<QueueItem[]>;
  show(id: number): Promise<QueueMessageDetail | null>;
  content(id: number): Promise<Uint8Array | null>;
  act(action: QueueAction, target: QueueTarget): Promise<QueueOpResult>;
  flush(): Promise<QueueOpResult>;
}

export function queueSource(t: Target): QueueSource {
  return t.kind === "db" ? dbQueue(t.storage.db) : apiQueue(t.api);
}

export function dbQueue(db: Executor): QueueSource {
  return {
    list: (p) => listQueue(db, p),
    show: (id) => showQueueMessage(db, id),
    content: (id) => readMessageBody(db, id),
    act: (action, target) => applyQueueAction(db, action, target, new Date(), "admin:cli"),
    flush: () => flushQueue(db, new Date()),
  };
}

export function apiQueue(api: AdminClient): QueueSource {
  return {
    async list(p) {
      const q = new URLSearchParams();
      if (p.state) q.set("state", p.state);
      if (p.domain) q.set("domain", p.domain);
      if (p.limit) q.set("limit", String(p.limit));
      return items(await api.json("GET", `/queue?${q.toString()}`), "queue items").map(itemFromJson);
    },
    async show(id) {
      try {
        return detailFromJson(await api.json("GET", `/queue/${id}`));
      } catch (err) {
        if (err instanceof Error && "status" in err && err.status === 404) return null;
        throw err;
      }
    },
    content: (id) => api.bytes(`/queue/${id}/raw`),
    async act(action, target) {
      const path =
        "all" in target
          ? `/queue/all/${action}?confirm=all`
          : "domain" in target
            ? `/queue/domain/${encodeURIComponent(target.domain)}/${action}`
            : `/queue/${target.messageId}${action === "delete" ? "" : `/${action}`}`;
      const method = "messageId" in target && action === "delete" ? "DELETE" : "POST";
      return opResult(await api.json(method, path));
    },
    flush: async () => opResult(await api.json("POST", "/queue/flush")),
  };
}

function opResult(body: unknown): QueueOpResult {
  const o = obj(body, "queue operation");
  return { recipients: num(o.recipients), messages: num(o.messages) };
}

function itemFromJson(o: Json): QueueItem {
  return {
    id: num(o.id),
    messageId: num(o.messageId),
    sender: str(o.sender),
    address: str(o.address),
    domain: str(o.domain),
    state: str(o.state),
    attempts: num(o.attempts),
    queuedAt: date(o.queuedAt),
    nextAttemptAt: date(o.nextAttemptAt),
    lockedBy: strOrNull(o.lockedBy),
    lockedUntil: dateOrNull(o.lockedUntil),
    lastCode: numOrNull(o.lastCode),
    lastStatus: strOrNull(o.lastStatus),
    lastText: strOrNull(o.lastText),
    sizeBytes: numOrNull(o.sizeBytes),
  };
}

function detailFromJson(body: unknown): QueueMessageDetail {
  const d = obj(body, "queue message");
  const m = obj(d.message, "queue message");
  return {
    message: {
      id: num(m.id),
      sender: str(m.sender),
      sizeBytes: num(m.sizeBytes),
      kind: str(m.kind),
      submittedBy: str(m.submittedBy),
      processor: strOrNull(m.processor),
      pendingRecipients: num(m.pendingRecipients),
      createdAt: date(m.createdAt),
      doneAt: dateOrNull(m.doneAt),
      clientAddress: strOrNull(m.clientAddress),
      authenticatedUser: strOrNull(m.authenticatedUser),
      subject: strOrNull(m.subject),
      headerMessageId: strOrNull(m.headerMessageId),
    },
    recipients: list(d.recipients, "recipients").map(itemFromJson),
    attempts: list(d.attempts, "attempts").map((a) => ({
      id: num(a.id),
      recipientId: num(a.recipientId),
      address: str(a.address),
      member: str(a.member),
      outcome: str(a.outcome),
      replyCode: num(a.replyCode),
      enhancedStatus: strOrNull(a.enhancedStatus),
      replyText: str(a.replyText),
      remoteHost: strOrNull(a.remoteHost),
      startedAt: date(a.startedAt),
      durationMs: num(a.durationMs),
      bounceClass: strOrNull(a.bounceClass),
    })),
  };
}
