import { html } from "hono/html";
import type { QueueItem, QueueMessageDetail } from "../../queue/admin.ts";
import type { QueuePage, QueueSearch } from "../../queue/admin-search.ts";
import { actionButton, type Html, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;

export const QUEUE_STATES = ["pending", "queued", "held", "delivered", "failed", "all"] as const;
export const BULK_ACTIONS = ["retry", "hold", "release", "bounce", "delete"] as const;

/** The query string of a search, without the offset (the pager adds its own). */
export function searchQuery(s: QueueSearch): string {
  const q = new URLSearchParams({ state: s.state });
  for (const k of ["domain", "sender", "recipient", "subject"] as const) if (s[k]) q.set(k, s[k] ?? "");
  return q.toString();
}

export function queueFilter(s: QueueSearch, counts: Record<string, number>): Html {
  return html`<p class="muted">${Object.entries(counts).map(([state, n]) => html`<span>${state}: <b>${n}</b></span> `)}</p>
<form method="get" action="/admin/queue" class="bar">
<label>state <select name="state">${QUEUE_STATES.map((st) => html`<option ${st === s.state ? "selected" : ""}>${st}</option>`)}</select></label>
<label>domain <input name="domain" value="${s.domain ?? ""}" size="14"></label>
<label>sender <input name="sender" value="${s.sender ?? ""}" size="14"></label>
<label>recipient <input name="recipient" value="${s.recipient ?? ""}" size="14"></label>
<label>subject <input name="subject" value="${s.subject ?? ""}" size="14"></label>
<button>Filter</button></form>`;
}

function reply(i: QueueItem): string {
  return i.lastCode ? `${i.lastCode} ${i.lastStatus ?? ""} ${i.lastText ?? ""}` : "";
}

/** Rows with checkboxes inside one form; the buttons apply to the checked messages. */
export function queueItemsForm(p: QueuePage, s: QueueSearch): Html {
  if (p.items.length === 0) return html`<p>No queue items match.</p>`;
  const here = `/admin/queue?${searchQuery(s)}&offset=${s.offset}`;
  const last = Math.min(s.offset + p.items.length, p.total);
  const prev = s.offset > 0 ? html`<a href="/admin/queue?${searchQuery(s)}&offset=${Math.max(0, s.offset - s.limit)}">← previous</a>` : "";
  const next = last < p.total ? html`<a href="/admin/queue?${searchQuery(s)}&offset=${s.offset + s.limit}">next →</a>` : "";
  return html`<form method="post" action="/admin/queue/bulk?back=${enc(here)}">
<div class="bar">With the checked messages:
${BULK_ACTIONS.map((a) => html`<button name="action" value="${a}" class="${a === "delete" || a === "bounce" ? "danger" : ""}">${a}</button>`)}</div>
${scroll(html`<table><tr><th><input type="checkbox" aria-label="check all" onclick="for(const b of this.form.querySelectorAll('input[name=id]'))b.checked=this.checked"></th>
<th>queue id</th><th>recipient</th><th>sender</th><th>subject</th><th>state</th><th>attempts</th><th>queued</th><th>next attempt</th><th>last reply</th></tr>
${p.items.map(
  (i) => html`<tr><td><input type="checkbox" name="id" value="${i.messageId}" aria-label="message ${i.messageId}"></td>
<td><a href="/admin/queue/${i.messageId}">${i.messageId}</a></td><td>${i.address}</td><td>${i.sender || "<>"}</td><td>${i.subject ?? ""}</td>
<td>${i.state}${i.lockedBy ? ` (${i.lockedBy})` : ""}</td><td>${i.attempts}</td><td>${when(i.queuedAt)}</td>
<td>${i.state === "queued" ? when(i.nextAttemptAt) : ""}</td><td>${reply(i)}</td></tr>`,
)}</table>`)}</form>
<p class="pager">${prev}<span>${s.offset + 1}–${last} of ${p.total}</span> ${next}</p>`;
}

/** The actions that mean something for a message in its current state. */
function actionsFor(d: QueueMessageDetail): Array<(typeof BULK_ACTIONS)[number]> {
  const states = new Set(d.recipients.map((r) => r.state));
  const out: Array<(typeof BULK_ACTIONS)[number]> = [];
  if (states.has("queued")) out.push("retry", "hold");
  if (states.has("held")) out.push("release");
  if (states.has("queued") || states.has("held")) out.push("bounce");
  out.push("delete");
  return out;
}

export function queueMessagePage(d: QueueMessageDetail, content: { headers: string; body: string; truncated: boolean } | null): Html {
  const m = d.message;
  const back = `?back=${enc(`/admin/queue/${m.id}`)}`;
  return html`${scroll(html`<table>
<tr><th>sender</th><td>${m.sender || "<>"}</td></tr><tr><th>subject</th><td id="subject">${m.subject ?? ""}</td></tr>
<tr><th>Message-ID</th><td id="message-id">${m.headerMessageId ? `<${m.headerMessageId}>` : ""}</td></tr><tr><th>recipients</th><td>${d.recipients.map((r) => r.address).join(", ")}</td></tr>
<tr><th>size</th><td>${m.sizeBytes} bytes</td></tr><tr><th>kind</th><td>${m.kind}</td></tr>
<tr><th>client</th><td>${m.clientAddress ?? ""}${m.authenticatedUser ? ` (AUTH ${m.authenticatedUser})` : ""}</td></tr>
<tr><th>submitted by</th><td>${m.submittedBy}</td></tr><tr><th>processor</th><td>${m.processor ?? "(pool)"}</td></tr>
<tr><th>pending</th><td>${m.pendingRecipients}</td></tr><tr><th>created</th><td>${when(m.createdAt)}</td></tr><tr><th>done</th><td>${when(m.doneAt)}</td></tr></table>`)}
<p class="bar">${actionsFor(d).map((a) => actionButton(`/admin/queue/${m.id}/${a}${a === "delete" ? "" : back}`, a))}</p>
<h2>Recipients</h2>${scroll(html`<table><tr><th>recipient</th><th>state</th><th>attempts</th><th>queued</th><th>next attempt</th><th>last reply</th></tr>
${d.recipients.map((i) => html`<tr><td>${i.address}</td><td>${i.state}</td><td>${i.attempts}</td><td>${when(i.queuedAt)}</td><td>${i.state === "queued" ? when(i.nextAttemptAt) : ""}</td><td>${reply(i)}</td></tr>`)}</table>`)}
<h2>Attempts</h2>${
    d.attempts.length === 0
      ? html`<p>No attempts yet.</p>`
      : scroll(html`<table><tr><th>at</th><th>recipient</th><th>member</th><th>outcome</th><th>class</th><th>reply</th><th>remote host</th><th>ms</th></tr>
${d.attempts.map(
  (a) => html`<tr><td>${when(a.startedAt)}</td><td>${a.address}</td><td>${a.member}</td><td>${a.outcome}</td><td>${a.bounceClass ?? ""}</td>
<td>${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}</td><td>${a.remoteHost ?? ""}</td><td>${a.durationMs}</td></tr>`,
)}</table>`)
  }
<h2>Headers</h2>${content ? html`<pre id="headers">${content.headers}</pre>` : html`<p>The body is gone (purged).</p>`}
${content ? html`<h2>Body</h2><pre id="body">${content.body}</pre>${content.truncated ? html`<p>Shortened; <a href="/admin/queue/${m.id}/raw">the whole message as text</a>.</p>` : ""}` : ""}
<p><a href="/admin/queue/${m.id}/raw">Raw message (text)</a></p>`;
}
