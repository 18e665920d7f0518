import { html } from "hono/html";
import type { MemberRow } from "../../cluster/members.ts";
import type { StoredMessageSummary } from "../../accounts/stored-messages.ts";
import type { QueueDomainSummary } from "../../queue/admin.ts";
import { actionButton, age, type Html, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;

export function loginForm(): Html {
  return html`<form method="post" action="/admin/login">
<label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button>Log in</button></form>`;
}

export function membersTable(members: MemberRow[], now: Date): Html {
  if (members.length === 0) return html`<p>No members registered.</p>`;
  return scroll(html`<table><tr><th>name</th><th>state</th><th>roles</th><th>submit</th><th>smtp</th><th>http</th><th>started</th><th>heartbeat age</th></tr>
${members.map(
  (m) => html`<tr><td>${m.name}</td><td class="${m.alive ? "alive" : "dead"}">${m.alive ? "alive" : "dead"}</td><td>${m.roles.join(", ")}</td>
<td>${m.submitMode}</td><td>${m.smtpEndpoint ?? ""}</td><td>${m.httpUrl ?? ""}</td><td>${when(m.startedAt)}</td>
<td>${age(Math.max(0, Math.round((now.getTime() - m.heartbeatAt.getTime()) / 1000)))}</td></tr>`,
)}</table>`);
}

export function queueSummaryTable(rows: QueueDomainSummary[]): Html {
  if (rows.length === 0) return html`<p>The queue is empty.</p>`;
  return scroll(html`<table><tr><th>domain</th><th>queued</th><th>held</th><th>messages</th><th>oldest</th><th>age</th><th>actions</th></tr>
${rows.map(
  (r) => html`<tr><td><a href="/admin/queue?domain=${enc(r.domain)}">${r.domain}</a></td><td>${r.queued}</td><td>${r.held}</td><td>${r.messages}</td>
<td>${when(r.oldestQueuedAt)}</td><td>${age(r.oldestAgeSeconds)}</td>
<td>${(["retry", "hold", "release", "bounce", "delete"] as const).map((a) => actionButton(`/admin/queue/domain/${enc(r.domain)}/${a}`, a))}</td></tr>`,
)}</table>`);
}

export function domainsPage(domains: Array<{ name: string; createdAt: Date }>): Html {
  return html`<form method="post" action="/admin/domains"><input name="name" placeholder="example.org"> <button>Add domain</button></form>
${scroll(html`<table><tr><th>domain</th><th>created</th><th></th></tr>
${domains.map((d) => html`<tr><td>${d.name}</td><td>${when(d.createdAt)}</td><td>${actionButton(`/admin/domains/${enc(d.name)}/remove`, "remove")}</td></tr>`)}
</table>`)}`;
}

export function accountsPage(accounts: Array<{ address: string; quotaBytes: number | null; homeMember: string | null; enabled: boolean; createdAt: Date }>): Html {
  return html`<form method="post" action="/admin/accounts"><input name="address" placeholder="user@example.org">
<input type="password" name="password" placeholder="password (optional)"> <input name="quota" placeholder="quota bytes">
<input name="home" placeholder="home member (static)"> <button>Add account</button></form>
${scroll(html`<table><tr><th>address</th><th>quota</th><th>home</th><th>enabled</th><th>created</th><th></th></tr>
${accounts.map(
  (a) => html`<tr><td><a href="/admin/accounts/${enc(a.address)}/messages">${a.address}</a></td><td>${a.quotaBytes ?? ""}</td><td>${a.homeMember ?? ""}</td><td>${a.enabled ? "yes" : "no"}</td>
<td>${when(a.createdAt)}</td><td>${actionButton(`/admin/accounts/${enc(a.address)}/remove`, "remove")}</td></tr>`,
)}</table>`)}`;
}

export function storedMessagesTable(rows: StoredMessageSummary[]): Html {
  if (rows.length === 0) return html`<p>No stored messages.</p>`;
  return scroll(html`<table><tr><th>folder</th><th>uid</th><th>size</th><th>from</th><th>subject</th><th>date</th><th>flags</th></tr>
${rows.map(
  (m) => html`<tr><td>${m.folder}</td><td><a href="/admin/messages/${m.id}/raw">${m.uid}</a></td><td>${m.sizeBytes}</td><td>${m.from ?? ""}</td>
<td>${m.subject ?? ""}</td><td>${when(m.date)}</td><td>${m.flags.join(" ")}</td></tr>`,
)}</table>`);
}
