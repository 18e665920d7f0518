import type { Hono } from "hono";
import { html } from "hono/html";
import { BOUNCE_CLASSES } from "../../domain/bounce-class.ts";
import { type AttemptLogRow, searchAttempts } from "../../queue/attempt-search.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { attemptSearchOf, logSearchQuery } from "../shared/log-query.ts";
import { formatIssues } from "../shared/validate.ts";
import { type Html, liveRefresh, page, scroll, when } from "./layout.ts";

export const LOG_PAGE_SIZE = 200;
const OUTCOMES = ["delivered", "deferred", "failed"] as const;

function filterForm(q: Record<string, string>): Html {
  const input = (name: string, label: string, size = 16, type = "text") => html`<label>${label} <input type="${type}" name="${name}" value="${q[name] ?? ""}" size="${size}"></label>`;
  return html`<form method="get" action="/admin/log" class="bar">${input("recipient", "recipient")}${input("sender", "sender")}${input("subject", "subject")}
${input("messageId", "Message-ID", 20)}${input("queueId", "queue id", 6)}
<label>outcome <select name="outcome"><option value="">any</option>${OUTCOMES.map((o) => html`<option ${q.outcome === o ? "selected" : ""}>${o}</option>`)}</select></label>
<label>class <select name="bounceClass"><option value="">any</option>${BOUNCE_CLASSES.map((b) => html`<option ${q.bounceClass === b ? "selected" : ""}>${b}</option>`)}</select></label>
${input("reply", "reply contains", 16)}${input("from", "from (UTC)", 16, "datetime-local")}${input("to", "to (UTC)", 16, "datetime-local")}<button>Search</button></form>`;
}

function logTable(rows: AttemptLogRow[]): Html {
  if (rows.length === 0) return html`<p>No attempts match.</p>`;
  return scroll(html`<table class="log"><tr><th>at</th><th>queue id</th><th>sender</th><th>subject / Message-ID</th><th>recipient</th><th>member</th><th>outcome</th><th>class</th><th>reply</th><th>remote host</th><th>ms</th></tr>
${rows.map(
  (a) => html`<tr><td>${when(a.startedAt)}</td><td><a href="/admin/queue/${a.messageId}">${a.messageId}</a></td><td>${a.sender === null ? html`<span class="muted">(purged)</span>` : a.sender || "<>"}</td>
<td>${a.subject ?? ""}${a.headerMessageId ? html`<br><small class="muted" style="word-break:break-all">&lt;${a.headerMessageId}&gt;</small>` : ""}</td><td>${a.address}</td><td>${a.member}</td><td>${a.outcome}</td><td>${a.bounceClass ?? ""}</td><td>${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}</td><td>${a.remoteHost ?? ""}</td><td>${a.durationMs}</td></tr>`,
)}</table>`);
}

/** The form's fields as the log query reads them: empty fields are no filter; ?id= is the older name of queueId. */
function formQuery(raw: Record<string, string>): Record<string, string> {
  const q = Object.fromEntries(Object.entries(raw).filter(([, v]) => v.trim() !== ""));
  if (q.id !== undefined && q.queueId === undefined) q.queueId = q.id;
  delete q.id;
  delete q.limit;
  return q;
}

/** The delivery log: every attempt with its reply, searchable; the newest first. */
export function logRoutes(app: Hono, d: AdminDeps): void {
  app.get("/log", async (c) => {
    const q = formQuery(c.req.query());
    const parsed = logSearchQuery.safeParse(q);
    if (!parsed.success) {
      const issues = formatIssues(parsed.error.issues);
      throw new ApiError(400, issues.map((i) => `${i.path === "queueId" ? "queue id" : i.path || "search"}: ${i.message}`).join("; "));
    }
    const rows = await searchAttempts(d.db, attemptSearchOf(parsed.data, LOG_PAGE_SIZE));
    // Keyset pages: "older" continues after the last row shown, "newest" drops the cursor.
    const newest = new URLSearchParams(Object.entries(q).filter(([k]) => k !== "before")).toString();
    const older = new URLSearchParams({ ...q, before: String(rows[rows.length - 1]?.id ?? "") }).toString();
    const full = rows.length === LOG_PAGE_SIZE;
    const note =
      full || q.before
        ? html`<p class="pager">${q.before ? html`<a href="/admin/log?${newest}">newest</a>` : ""}${full ? html`<a href="/admin/log?${older}" id="older">older ${LOG_PAGE_SIZE} →</a>` : ""}</p>`
        : "";
    const live = liveRefresh(c.req.url, false);
    return c.html(page("Delivery log", html`${filterForm(q)}<p class="bar">${live.control}</p>${logTable(rows)}${note}`, { here: "/admin/log", refreshSeconds: live.refreshSeconds }));
  });
}
