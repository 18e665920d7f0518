import type { Hono } from "hono";
import { html } from "hono/html";
import { type AttemptLogRow, type AttemptSearch, searchAttempts } from "../../queue/attempt-search.ts";
import type { AdminDeps } from "../admin/deps.ts";
import { ApiError } from "../admin/errors.ts";
import { type Html, page, scroll, when } from "./layout.ts";

export const LOG_PAGE_SIZE = 200;
const OUTCOMES = ["delivered", "deferred", "failed"] as const;

/** "2026-06-01T12:00" (datetime-local, read as UTC) or an ISO time; a precise 400 otherwise. */
function time(raw: string | undefined, name: string): Date | undefined {
  if (!raw) return undefined;
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`);
  if (Number.isNaN(d.getTime())) throw new ApiError(400, `${name}: not a time ("${raw}"); use 2026-06-01T12:00 (UTC)`);
  return d;
}

function filterForm(q: Record<string, string>): Html {
  const input = (name: string, label: string, size = 16, type = "text") => html`<label>${label} <input type="${type}" name="${name}" value="${q[name] ?? ""}" size="${size}"></label>`;
  return html`<form method="get" action="/admin/log" class="bar">${input("recipient", "recipient")}${input("sender", "sender")}${input("id", "queue id", 6)}
<label>outcome <select name="outcome"><option value="">any</option>${OUTCOMES.map((o) => html`<option ${q.outcome === o ? "selected" : ""}>${o}</option>`)}</select></label>
${input("reply", "reply contains", 16)}${input("from", "from (UTC)", 16, "datetime-local")}${input("to", "to (UTC)", 16, "datetime-local")}<button>Search</button></form>`;
}

function logTable(rows: AttemptLogRow[]): Html {
  if (rows.length === 0) return html`<p>No attempts match.</p>`;
  return scroll(html`<table><tr><th>at</th><th>queue id</th><th>sender</th><th>recipient</th><th>member</th><th>outcome</th><th>reply</th><th>remote host</th><th>ms</th></tr>
${rows.map(
  (a) => html`<tr><td>${when(a.startedAt)}</td><td><a href="/admin/queue/${a.messageId}">${a.messageId}</a></td><td>${a.sender === null ? html`<span class="muted">(purged)</span>` : a.sender || "<>"}</td>
<td>${a.address}</td><td>${a.member}</td><td>${a.outcome}</td><td>${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}</td><td>${a.remoteHost ?? ""}</td><td>${a.durationMs}</td></tr>`,
)}</table>`);
}

/** The delivery log: every attempt with its reply, searchable; the newest first. */
export function logRoutes(app: Hono, d: AdminDeps): void {
  app.get("/log", async (c) => {
    const q = c.req.query();
    const id = q.id?.trim() ? Number(q.id) : undefined;
    if (id !== undefined && (!Number.isSafeInteger(id) || id <= 0)) throw new ApiError(400, `queue id: not a number ("${q.id}")`);
    const s: AttemptSearch = {
      recipient: q.recipient?.trim() || undefined,
      sender: q.sender?.trim() || undefined,
      messageId: id,
      outcome: OUTCOMES.find((o) => o === q.outcome),
      reply: q.reply?.trim() || undefined,
      from: time(q.from?.trim(), "from"),
      to: time(q.to?.trim(), "to"),
      limit: LOG_PAGE_SIZE,
    };
    const rows = await searchAttempts(d.db, s);
    const note = rows.length === LOG_PAGE_SIZE ? html`<p class="muted">The newest ${LOG_PAGE_SIZE} shown; narrow the search for older ones.</p>` : "";
    return c.html(page("Delivery log", html`${filterForm(q)}${logTable(rows)}${note}`, { here: "/admin/log" }));
  });
}
