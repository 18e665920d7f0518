import type { Hono } from "hono";
import { html } from "hono/html";
import { applyQueueAction, isQueueAction, type QueueAction, showQueueMessage } from "../../queue/admin.ts";
import { queueStateCounts, searchQueue, type QueueSearch } from "../../queue/admin-search.ts";
import { MAX_HEADER_SUMMARY_CHARS } from "../../queue/header-summary.ts";
import { readMessageBody } from "../../queue/body.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { confirmationPage, isConfirmed } from "./confirm.ts";
import { back, field, fields, parseForm } from "./forms.ts";
import { liveRefresh, page } from "./layout.ts";
import { QUEUE_STATES, queueFilter, queueItemsForm, queueMessagePage } from "./queue-view.ts";

export const QUEUE_PAGE_SIZE = 100;
/** What the detail page shows of a body; the raw view has all of it. */
const SHOWN_BODY_BYTES = 64 * 1024;

/** Bounce and delete cannot be undone: they ask first. */
const DESTRUCTIVE = new Set<QueueAction>(["bounce", "delete"]);

function messageId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ApiError(400, `invalid queue id "${raw}"`);
  return id;
}

function splitMessage(content: Uint8Array): { headers: string; body: string; truncated: boolean } {
  // Shown as text only; a stored message is untrusted input and is escaped like everything else.
  const text = new TextDecoder("utf-8", { fatal: false }).decode(content.subarray(0, SHOWN_BODY_BYTES));
  const at = text.search(/\r?\n\r?\n/);
  const headers = at < 0 ? text : text.slice(0, at);
  const body = at < 0 ? "" : text.slice(at).replace(/^\r?\n\r?\n/, "");
  return { headers, body, truncated: content.byteLength > SHOWN_BODY_BYTES };
}

function consequence(action: QueueAction): string {
  return action === "delete"
    ? "The message leaves the queue without a bounce; nobody is told."
    : "Each pending recipient fails with 550 5.0.0 and the sender gets a bounce.";
}

export function queueRoutes(app: Hono, d: AdminDeps): void {
  app.get("/queue", async (c) => {
    const wanted = c.req.query("state") ?? "pending";
    const offset = Number(c.req.query("offset") ?? 0);
    const s: QueueSearch = {
      state: QUEUE_STATES.find((st) => st === wanted) ?? "pending",
      domain: c.req.query("domain")?.trim() || undefined,
      sender: c.req.query("sender")?.trim() || undefined,
      recipient: c.req.query("recipient")?.trim() || undefined,
      subject: c.req.query("subject")?.trim() || undefined,
      offset: Number.isSafeInteger(offset) && offset > 0 ? offset : 0,
      limit: QUEUE_PAGE_SIZE,
    };
    if ((s.subject?.length ?? 0) > MAX_HEADER_SUMMARY_CHARS) throw new ApiError(400, `subject: at most ${MAX_HEADER_SUMMARY_CHARS} characters`);
    const [found, counts] = await Promise.all([searchQueue(d.db, s), queueStateCounts(d.db)]);
    const live = liveRefresh(c.req.url, false);
    return c.html(page("Queue", html`${queueFilter(s, counts)}<p class="bar">${live.control}</p>${queueItemsForm(found, s)}`, { flash: c.req.query("msg"), here: "/admin/queue", refreshSeconds: live.refreshSeconds }));
  });

  app.post("/queue/bulk", async (c) => {
    const form = await parseForm(c);
    const action = field(form, "action");
    if (!isQueueAction(action)) throw new ApiError(400, `no queue action "${action}"`);
    const ids = [...new Set(fields(form, "id").map(messageId))];
    if (ids.length === 0) return back(c, "/admin/queue", "no message checked: nothing done");
    if (DESTRUCTIVE.has(action) && !isConfirmed(form)) {
      return confirmationPage(c, form, {
        title: `${action[0].toUpperCase()}${action.slice(1)} ${ids.length} message(s)?`,
        question: `${action} queue message(s) ${ids.join(", ")}?`,
        consequence: consequence(action),
        yes: `Yes, ${action} ${ids.length} message(s)`,
        cancel: c.req.query("back") ?? "/admin/queue",
      });
    }
    let recipients = 0;
    for (const id of ids) recipients += (await applyQueueAction(d.db, action, { messageId: id }, d.clock.now())).recipients;
    d.logger.info({ action, messageIds: ids, recipients, via: "webadmin" }, "queue operation by administrator");
    return back(c, "/admin/queue", `${action}: ${recipients} recipient(s) of ${ids.length} message(s)`);
  });

  app.get("/queue/:id", async (c) => {
    const id = messageId(c.req.param("id"));
    const detail = await showQueueMessage(d.db, id);
    if (!detail) throw new ApiError(404, `no queue message ${id}`);
    const content = await readMessageBody(d.db, id);
    return c.html(page(`Queue message ${id}`, queueMessagePage(detail, content ? splitMessage(content) : null), { flash: c.req.query("msg"), here: "/admin/queue" }));
  });

  app.get("/queue/:id/raw", async (c) => {
    const id = messageId(c.req.param("id"));
    const content = await readMessageBody(d.db, id);
    if (!content) throw new ApiError(404, `no body for queue message ${id}`);
    return c.body(new Uint8Array(content), 200, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  });

  app.post("/queue/domain/:domain/:action", async (c) => {
    const { domain, action } = c.req.param();
    if (!isQueueAction(action)) throw new ApiError(404, `no queue action "${action}"`);
    const form = await parseForm(c);
    if (DESTRUCTIVE.has(action) && !isConfirmed(form)) {
      return confirmationPage(c, form, {
        title: `${action[0].toUpperCase()}${action.slice(1)} everything for ${domain}?`,
        question: `${action} every pending recipient in ${domain}?`,
        consequence: consequence(action),
        yes: `Yes, ${action} all of ${domain}`,
        cancel: c.req.query("back") ?? "/admin",
      });
    }
    const r = await applyQueueAction(d.db, action, { domain }, d.clock.now());
    d.logger.info({ action, domain, ...r, via: "webadmin" }, "queue operation by administrator");
    return back(c, "/admin", `${action} ${domain}: ${r.recipients} recipient(s) of ${r.messages} message(s)`);
  });

  app.post("/queue/:id/:action", async (c) => {
    const { id, action } = c.req.param();
    if (!isQueueAction(action)) throw new ApiError(404, `no queue action "${action}"`);
    const target = messageId(id);
    const form = await parseForm(c);
    if (DESTRUCTIVE.has(action) && !isConfirmed(form)) {
      return confirmationPage(c, form, {
        title: `${action[0].toUpperCase()}${action.slice(1)} message ${target}?`,
        question: `${action} queue message ${target}?`,
        consequence: consequence(action),
        yes: `Yes, ${action} message ${target}`,
        cancel: `/admin/queue/${target}`,
      });
    }
    const r = await applyQueueAction(d.db, action, { messageId: target }, d.clock.now());
    d.logger.info({ action, messageId: target, ...r, via: "webadmin" }, "queue operation by administrator");
    // A deleted message has no page to go back to.
    return back(c, "/admin/queue", `${action} ${target}: ${r.recipients} recipient(s)`, action === "delete" ? undefined : c.req.query("back"));
  });
}
