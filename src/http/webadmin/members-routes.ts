import type { Hono } from "hono";
import { html } from "hono/html";
import { listMembers, type MemberRow } from "../../cluster/members.ts";
import { loadSettings } from "../../cluster/settings.ts";
import { changeSubmitMode, SUBMIT_MODES, SubmitModeError } from "../../cluster/submit-mode.ts";
import { pendingByProcessor } from "../../queue/admin-search.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { back, field, parseForm } from "./forms.ts";
import { age, type Html, liveRefresh, page, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;

const MODE_MEANING: Record<(typeof SUBMIT_MODES)[number], string> = {
  locally: "its own workers process what it submits",
  "locally-for-others": "as locally, and its workers also serve the shared pool of remotely members",
  remotely: "no processing of its own: its messages go to the live locally-for-others members (it falls back to itself when none is alive)",
};

function modeForm(m: MemberRow): Html {
  return html`<form class="inline" method="post" action="/admin/members/${enc(m.name)}/mode">
<select name="mode" aria-label="submit mode of ${m.name}">${SUBMIT_MODES.map((mode) => html`<option ${mode === m.submitMode ? "selected" : ""}>${mode}</option>`)}</select>
<button>Apply</button></form>`;
}

function queueProcessingPanel(members: MemberRow[], pending: Map<string | null, number>, now: Date): Html {
  const pool = members.filter((m) => m.alive && m.submitMode === "locally-for-others").map((m) => m.name);
  return html`<h2>Queue Processing</h2>
<p class="muted">Each member's submit mode decides who processes the messages it submits. A change is stored at once and
the member applies it with its next heartbeat, without a restart.</p>
<ul class="muted">${SUBMIT_MODES.map((mode) => html`<li><b>${mode}</b>: ${MODE_MEANING[mode]}</li>`)}</ul>
<p>Shared pool: ${pending.get(null) ?? 0} unfinished message(s), served by ${pool.length > 0 ? pool.join(", ") : "every live member (no locally-for-others member is alive)"}.</p>
${
    members.length === 0
      ? html`<p>No members registered.</p>`
      : scroll(html`<table><tr><th>member</th><th>state</th><th>roles</th><th>submit mode</th><th>unfinished messages it processes</th><th>smtp</th><th>http</th><th>started</th><th>heartbeat age</th></tr>
${members.map(
  (m) => html`<tr id="member-${m.name}"><td>${m.name}</td><td class="${m.alive ? "alive" : "dead"}">${m.alive ? "alive" : "dead"}</td><td>${m.roles.join(", ")}</td>
<td>${modeForm(m)}</td><td>${pending.get(m.name) ?? 0}</td><td>${m.smtpEndpoint ?? ""}</td><td>${m.httpUrl ?? ""}</td><td>${when(m.startedAt)}</td>
<td>${age(Math.max(0, Math.round((now.getTime() - m.heartbeatAt.getTime()) / 1000)))}</td></tr>`,
)}</table>`)
  }`;
}

export function memberRoutes(app: Hono, d: AdminDeps): void {
  app.get("/members", async (c) => {
    const now = d.clock.now();
    const s = await loadSettings(d.db);
    const [members, pending] = await Promise.all([listMembers(d.db, now, s.member_timeout_seconds), pendingByProcessor(d.db)]);
    const live = liveRefresh(c.req.url, false);
    return c.html(page("Members", html`<p class="bar">${live.control}</p>${queueProcessingPanel(members, pending, now)}`, { flash: c.req.query("msg"), here: "/admin/members", refreshSeconds: live.refreshSeconds }));
  });

  app.post("/members/:name/mode", async (c) => {
    const name = c.req.param("name");
    const mode = field(await parseForm(c), "mode");
    try {
      const change = await changeSubmitMode(d.db, name, mode);
      d.logger.info({ ...change, via: "webadmin" }, "member submit mode changed by administrator");
      const what = change.previous === change.submitMode ? `${name} stays ${change.submitMode}` : `${name}: ${change.previous} → ${change.submitMode}, applied with its next heartbeat`;
      return back(c, "/admin/members", what);
    } catch (err) {
      if (err instanceof SubmitModeError) throw new ApiError(err.status, err.message);
      throw err;
    }
  });
}
