import type { Hono } from "hono";
import { html } from "hono/html";
import { formatHostList, listRoutes, removeRoute, type Route, setRoute } from "../../relay/routes-store.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { confirmationPage, isConfirmed } from "./confirm.ts";
import { back, field, parseForm } from "./forms.ts";
import { actionButton, type Html, page, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;

function routesPage(routes: Route[]): Html {
  return html`<p class="muted">Like Postfix's transport_maps: mail for a domain goes to these hosts instead of its MX; "*" catches every remote domain. Passwords are never shown.</p>
<form method="post" action="/admin/routes" class="bar">
<input name="domain" placeholder="example.net or *" aria-label="domain" required> <input name="hosts" placeholder="mx1.example.net:25,mx2.example.net" aria-label="hosts" required size="28">
<label>TLS <select name="tls" aria-label="TLS policy"><option value="may" selected>may (opportunistic)</option><option value="encrypt">encrypt (STARTTLS required)</option><option value="verify">verify (verified certificate)</option><option value="none">none (never STARTTLS)</option></select></label>
<input name="authUser" placeholder="AUTH user (optional)" aria-label="AUTH user"> <input type="password" name="authPass" placeholder="AUTH password" aria-label="AUTH password">
<button>Add or replace route</button></form>
${
    routes.length === 0
      ? html`<p>No routes: remote mail goes by MX (or the forwarding server setting).</p>`
      : scroll(html`<table><tr><th>domain</th><th>hosts</th><th>TLS</th><th>AUTH user</th><th>created</th><th></th></tr>
${routes.map(
  (r) => html`<tr><td>${r.domain}</td><td>${formatHostList(r.hosts)}</td><td>${r.tls}</td><td>${r.authUser ?? ""}</td><td>${when(r.createdAt)}</td>
<td>${actionButton(`/admin/routes/${enc(r.domain)}/remove`, "remove")}</td></tr>`,
)}</table>`)
  }`;
}

export function routeRoutes(app: Hono, d: AdminDeps): void {
  app.get("/routes", async (c) => c.html(page("Routes", routesPage(await listRoutes(d.db)), { flash: c.req.query("msg"), here: "/admin/routes" })));

  app.post("/routes", async (c) => {
    const form = await parseForm(c);
    const route = await setRoute(d.db, {
      domain: field(form, "domain"),
      hosts: field(form, "hosts"),
      tls: field(form, "tls") || undefined,
      authUser: field(form, "authUser") || null,
      authPass: field(form, "authPass") || null,
    });
    d.logger.info({ domain: route.domain, via: "webadmin" }, "route set by administrator");
    return back(c, "/admin/routes", `route ${route.domain} → ${formatHostList(route.hosts)}`);
  });

  app.post("/routes/:domain/remove", async (c) => {
    const domain = c.req.param("domain");
    const form = await parseForm(c);
    if (!isConfirmed(form)) {
      return confirmationPage(c, form, { title: `Remove the route for ${domain}?`, question: `Mail for ${domain} will go by MX again (or the forwarding server).`, yes: `Yes, remove ${domain}`, cancel: "/admin/routes" });
    }
    await removeRoute(d.db, domain);
    return back(c, "/admin/routes", `route ${domain} removed`);
  });
}
