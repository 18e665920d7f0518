import type { Hono } from "hono";
import { html } from "hono/html";
import { clearDestination, type DestinationsOverview, destinationsOverview, suspendDestination } from "../../shaping/admin.ts";
import { removeLimits, setLimits, validateLimits } from "../../shaping/limits.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { back, field, parseForm } from "./forms.ts";
import { actionButton, type Html, page, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;
const dash = (v: number | null) => (v === null ? "default" : v === 0 ? "no limit" : String(v));

function destinationsPage(o: DestinationsOverview): Html {
  const d = o.defaults;
  return html`<p class="muted">Cluster-wide traffic shaping ${o.enabled ? "is on" : html`<b>is off</b> (setting relay_shaping)`}. Per destination site (its MX host set, or a route):
at most ${d.maxConnections} connections, ${d.messagesPerMinute ?? "unlimited"} messages and ${d.connectionsPerMinute ?? "unlimited"} new connections per minute, unless set below.
A reply matching a rule suspends the site for every member; its queued recipients wait until the end.</p>
<h2>Suspended or slowed</h2>
${
    o.suspensions.length === 0
      ? html`<p>None.</p>`
      : scroll(html`<table><tr><th>site</th><th>action</th><th>until</th><th>domains</th><th>reason</th><th></th></tr>
${o.suspensions.map(
  (s) => html`<tr><td>${s.site}</td><td>${s.maxConnections === null ? "suspended" : `slowed to ${s.maxConnections}`}</td><td>${when(s.until)}</td><td>${s.domains.join(", ")}</td><td>${s.reason}</td>
<td>${actionButton(`/admin/destinations/${enc(s.site)}/clear`, "lift")}</td></tr>`,
)}</table>`)
  }
<form method="post" action="/admin/destinations/suspend" class="bar"><input name="destination" placeholder="example.org or mx:…" aria-label="destination" required>
<input name="seconds" placeholder="seconds" aria-label="seconds" size="7" required> <input name="reason" placeholder="reason (optional)" aria-label="reason"> <button>Suspend</button></form>
<h2>Limits</h2>
${
    o.limits.length === 0
      ? html`<p>No per-destination limits: the settings apply everywhere.</p>`
      : scroll(html`<table><tr><th>destination</th><th>connections</th><th>messages/min</th><th>connections/min</th><th></th></tr>
${o.limits.map(
  (l) => html`<tr><td>${l.destination}</td><td>${dash(l.maxConnections)}</td><td>${dash(l.messagesPerMinute)}</td><td>${dash(l.connectionsPerMinute)}</td>
<td>${actionButton(`/admin/destinations/${enc(l.destination)}/limits/remove`, "remove")}</td></tr>`,
)}</table>`)
  }
<form method="post" action="/admin/destinations/limits" class="bar"><input name="destination" placeholder="example.org or mx:…" aria-label="destination" required>
<input name="maxConnections" placeholder="connections" aria-label="connections" size="6"> <input name="messagesPerMinute" placeholder="messages/min" aria-label="messages per minute" size="8">
<input name="connectionsPerMinute" placeholder="connections/min" aria-label="connections per minute" size="8"> <button>Set limits</button></form>
<h2>Connection slots held now</h2>
${o.slots.length === 0 ? html`<p>None.</p>` : scroll(html`<table><tr><th>site</th><th>held</th><th>members</th></tr>${o.slots.map((s) => html`<tr><td>${s.site}</td><td>${s.held}</td><td>${s.holders.join(", ")}</td></tr>`)}</table>`)}
<h2>Reply rules</h2>
${scroll(html`<table><tr><th>id</th><th>pattern</th><th>action</th><th>for</th></tr>${o.rules.map(
    (r) => html`<tr><td>${r.id}</td><td><code>${r.pattern}</code></td><td>${r.action === "slow" ? `slow to ${r.maxConnections}` : "suspend"}</td><td>${r.seconds} s</td></tr>`,
  )}</table>`)}
<p class="muted">Rules are edited with <code>mailcluster destinations rules</code> or the API (/api/v1/destinations/rules).</p>`;
}

function optionalInt(value: string, name: string): number | null {
  if (value === "") return null;
  if (!/^\d+$/.test(value)) throw new ApiError(400, `${name} must be a whole number`);
  return Number(value);
}

/** WebAdmin: the Destinations page (traffic shaping). */
export function destinationRoutes(app: Hono, d: AdminDeps): void {
  app.get("/destinations", async (c) => c.html(page("Destinations", destinationsPage(await destinationsOverview(d.db, d.clock.now())), { flash: c.req.query("msg"), here: "/admin/destinations" })));

  app.post("/destinations/limits", async (c) => {
    const form = await parseForm(c);
    const body = {
      maxConnections: optionalInt(field(form, "maxConnections"), "connections"),
      messagesPerMinute: optionalInt(field(form, "messagesPerMinute"), "messages per minute"),
      connectionsPerMinute: optionalInt(field(form, "connectionsPerMinute"), "connections per minute"),
    };
    const l = await setLimits(d.db, validateLimits(field(form, "destination"), body));
    d.logger.info({ limits: l, via: "webadmin" }, "destination limits set by administrator");
    return back(c, "/admin/destinations", `limits of ${l.destination} set`);
  });

  app.post("/destinations/suspend", async (c) => {
    const form = await parseForm(c);
    const seconds = optionalInt(field(form, "seconds"), "seconds");
    const s = await suspendDestination(d.db, { destination: field(form, "destination"), seconds: seconds ?? undefined, reason: field(form, "reason") || undefined, now: d.clock.now() });
    return back(c, "/admin/destinations", `${s.site} suspended until ${when(s.until)}`);
  });

  app.post("/destinations/:destination/clear", async (c) => {
    const r = await clearDestination(d.db, c.req.param("destination"), d.clock.now());
    if (r.cleared.length === 0) throw new ApiError(404, `${c.req.param("destination")} is not suspended`);
    return back(c, "/admin/destinations", `lifted: ${r.cleared.join(", ")} (${r.recipients} recipients due now)`);
  });

  app.post("/destinations/:destination/limits/remove", async (c) => {
    const dest = c.req.param("destination");
    if (!(await removeLimits(d.db, dest))) throw new ApiError(404, `no limits set for ${dest}`);
    return back(c, "/admin/destinations", `limits of ${dest} removed`);
  });
}
