import type { Hono } from "hono";
import { html } from "hono/html";
import { addAlias, listAliases, removeAlias } from "../../accounts/store.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { newAliasBody } from "../shared/schemas.ts";
import { formatIssues } from "../shared/validate.ts";
import { confirmationPage, isConfirmed } from "./confirm.ts";
import { back, field, parseForm } from "./forms.ts";
import { actionButton, type Html, page, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;

function aliasesPage(rows: Array<{ address: string; targets: string; createdAt: Date }>): Html {
  return html`<form method="post" action="/admin/aliases" class="bar">
<input name="address" placeholder="postmaster@example.org" aria-label="alias address" required>
<input name="targets" placeholder="alice@example.org, bob@example.net" aria-label="targets" required size="30"> <button>Add alias</button></form>
${
    rows.length === 0
      ? html`<p>No aliases.</p>`
      : scroll(html`<table><tr><th>alias</th><th>delivers to</th><th>created</th><th></th></tr>
${rows.map((a) => html`<tr><td>${a.address}</td><td>${a.targets.split(",").filter(Boolean).join(", ")}</td><td>${when(a.createdAt)}</td><td>${actionButton(`/admin/aliases/${enc(a.address)}/remove`, "remove")}</td></tr>`)}</table>`)
  }`;
}

export function aliasRoutes(app: Hono, d: AdminDeps): void {
  app.get("/aliases", async (c) => c.html(page("Aliases", aliasesPage(await listAliases(d.db)), { flash: c.req.query("msg"), here: "/admin/aliases" })));

  app.post("/aliases", async (c) => {
    const form = await parseForm(c);
    const parsed = newAliasBody.safeParse({
      address: field(form, "address"),
      targets: field(form, "targets")
        .split(/[\s,]+/)
        .filter(Boolean),
    });
    if (!parsed.success) {
      const issues = formatIssues(parsed.error.issues);
      throw new ApiError(400, `invalid ${issues[0]?.path || "form"}: ${issues[0]?.message ?? "?"}`, issues);
    }
    const address = await addAlias(d.db, parsed.data.address, parsed.data.targets);
    return back(c, "/admin/aliases", `added ${address} → ${parsed.data.targets.join(", ")}`);
  });

  app.post("/aliases/:address/remove", async (c) => {
    const address = c.req.param("address");
    const form = await parseForm(c);
    if (!isConfirmed(form)) return confirmationPage(c, form, { title: `Remove the alias ${address}?`, question: `Mail to ${address} no longer goes to its targets.`, yes: `Yes, remove ${address}`, cancel: "/admin/aliases" });
    await removeAlias(d.db, address);
    return back(c, "/admin/aliases", `removed ${address}`);
  });
}
