import { html } from "hono/html";
import type { MemberRow } from "../../cluster/members.ts";
import type { StoredMessageSummary } from "../../accounts/stored-messages.ts";
import type { QueueDomainSummary, QueueItem, QueueMessageDetail } from "../../queue/admin.ts";
import { actionButton, age, type Html, when } from "./layout.ts";

const enc = encodeURIComponent;

export function loginForm(): Html {
  return html`<form method="post" action="/admin/login">
<label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button>Log in</button></form>`;
}

export function membersTable(members: MemberRow[], now: Date): Html {
  if (members.length === 0) return html`<p>No members registered.</p>`;
  return html`<table><tr><th>name</th><th>state</th><th>roles</th><th>submit</th><th>smtp</th><th>http</th><th>started</th><th>heartbeat age</th></tr>
${members.map(
  (m) => html`<tr><td>${m.name}</td><td class="${m.alive ? "alive" : "dead"}">${m.alive ? "alive" : "dead"}</td><td>${m.roles.join(", ")}</td>
<td>${m.submitMode}</td><td>${m.smtpEndpoint ?? ""}</td><td>${m.httpUrl ?? ""}</td><td>${when(m.startedAt)}</td>
<td>${age(Math.max(0, Math.round((now.getTime() - m.heartbeatAt.getTime()) / 1000)))}</td></tr>`,
)}</table>`;
}

export function queueSummaryTable(rows: QueueDomainSummary[]): Html {
  if (rows.length === 0) return html`<p>The queue is empty.</p>`;
  return html`<table><tr><th>domain</th><th>queued</th><th>held</th><th>messages</th><th>oldest</th><th>age</th><th>actions</th></tr>
${rows.map(
  (r) => html`<tr><td><a href="/admin/queue?domain=${enc(r.domain)}">${r.domain}</a></td><td>${r.queued}</td><td>${r.held}</td><td>${r.messages}</td>
<td>${when(r.oldestQueuedAt)}</td><td>${age(r.oldestAgeSeconds)}</td>
<td>${(["retry", "hold", "release", "bounce"] as const).map((a) => actionButton(`/admin/queue/domain/${enc(r.domain)}/${a}`, a))}</td></tr>`,
)}</table>`;
}

export function queueItemsTable(items: QueueItem[], back: string): Html {
  if (items.length === 0) return html`<p>No queue items match.</p>`;
  const q = `?back=${enc(back)}`;
  return html`<table><tr><th>queue id</th><th>recipient</th><th>sender</th><th>state</th><th>attempts</th><th>queued</th><th>next attempt</th><th>last reply</th><th>actions</th></tr>
${items.map(
  (i) => html`<tr><td><a href="/admin/queue/${i.messageId}">${i.messageId}</a></td><td>${i.address}</td><td>${i.sender || "<>"}</td><td>${i.state}${i.lockedBy ? ` (${i.lockedBy})` : ""}</td>
<td>${i.attempts}</td><td>${when(i.queuedAt)}</td><td>${when(i.nextAttemptAt)}</td>
<td>${i.lastCode ? `${i.lastCode} ${i.lastStatus ?? ""} ${i.lastText ?? ""}` : ""}</td>
<td>${(["retry", "hold", "release", "bounce", "delete"] as const).map((a) => actionButton(`/admin/queue/${i.messageId}/${a}${q}`, a))}</td></tr>`,
)}</table>`;
}

export function queueFilter(domain: string, state: string): Html {
  const states = ["pending", "queued", "held", "delivered", "failed", "all"];
  return html`<form method="get" action="/admin/queue">domain <input name="domain" value="${domain}">
state <select name="state">${states.map((s) => html`<option ${s === state ? "selected" : ""}>${s}</option>`)}</select> <button>Filter</button></form>`;
}

export function domainsPage(domains: Array<{ name: string; createdAt: Date }>): Html {
  return html`<form method="post" action="/admin/domains"><input name="name" placeholder="example.org"> <button>Add domain</button></form>
<table><tr><th>domain</th><th>created</th><th></th></tr>
${domains.map((d) => html`<tr><td>${d.name}</td><td>${when(d.createdAt)}</td><td>${actionButton(`/admin/domains/${enc(d.name)}/remove`, "remove")}</td></tr>`)}
</table>`;
}

export function accountsPage(accounts: Array<{ address: string; quotaBytes: number | null; homeMember: string | null; enabled: boolean; createdAt: Date }>): Html {
  return html`<form method="post" action="/admin/accounts"><input name="address" placeholder="user@example.org">
<input type="password" name="password" placeholder="password (optional)"> <input name="quota" placeholder="quota bytes">
<input name="home" placeholder="home member (static)"> <button>Add account</button></form>
<table><tr><th>address</th><th>quota</th><th>home</th><th>enabled</th><th>created</th><th></th></tr>
${accounts.map(
  (a) => html`<tr><td><a href="/admin/accounts/${enc(a.address)}/messages">${a.address}</a></td><td>${a.quotaBytes ?? ""}</td><td>${a.homeMember ?? ""}</td><td>${a.enabled ? "yes" : "no"}</td>
<td>${when(a.createdAt)}</td><td>${actionButton(`/admin/accounts/${enc(a.address)}/remove`, "remove")}</td></tr>`,
)}</table>`;
}

export function queueMessagePage(d: QueueMessageDetail): Html {
  const m = d.message;
  const back = `?back=${enc(`/admin/queue/${m.id}`)}`;
  return html`<table>
<tr><th>sender</th><td>${m.sender || "<>"}</td></tr><tr><th>size</th><td>${m.sizeBytes}</td></tr>
<tr><th>kind</th><td>${m.kind}</td></tr><tr><th>submitted by</th><td>${m.submittedBy}</td></tr>
<tr><th>processor</th><td>${m.processor ?? "(pool)"}</td></tr><tr><th>pending</th><td>${m.pendingRecipients}</td></tr>
<tr><th>created</th><td>${when(m.createdAt)}</td></tr><tr><th>done</th><td>${when(m.doneAt)}</td></tr></table>
<p>${(["retry", "hold", "release", "bounce", "delete"] as const).map((a) => actionButton(`/admin/queue/${m.id}/${a}${a === "delete" ? "" : back}`, a))}</p>
<h2>Recipients</h2>${queueItemsTable(d.recipients, `/admin/queue/${m.id}`)}
<h2>Attempts</h2>${
    d.attempts.length === 0
      ? html`<p>No attempts yet.</p>`
      : html`<table><tr><th>at</th><th>recipient</th><th>member</th><th>outcome</th><th>reply</th><th>remote host</th><th>ms</th></tr>
${d.attempts.map(
  (a) => html`<tr><td>${when(a.startedAt)}</td><td>${a.address}</td><td>${a.member}</td><td>${a.outcome}</td>
<td>${a.replyCode} ${a.enhancedStatus ?? ""} ${a.replyText}</td><td>${a.remoteHost ?? ""}</td><td>${a.durationMs}</td></tr>`,
)}</table>`
  }`;
}

export function storedMessagesTable(rows: StoredMessageSummary[]): Html {
  if (rows.length === 0) return html`<p>No stored messages.</p>`;
  return html`<table><tr><th>folder</th><th>uid</th><th>size</th><th>from</th><th>subject</th><th>date</th><th>flags</th></tr>
${rows.map(
  (m) => html`<tr><td>${m.folder}</td><td><a href="/admin/messages/${m.id}/raw">${m.uid}</a></td><td>${m.sizeBytes}</td><td>${m.from ?? ""}</td>
<td>${m.subject ?? ""}</td><td>${when(m.date)}</td><td>${m.flags.join(" ")}</td></tr>`,
)}</table>`;
}
