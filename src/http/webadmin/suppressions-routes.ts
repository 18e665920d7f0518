import type { Hono } from "hono";
import { html } from "hono/html";
import { suppressionsFromCsv, suppressionsToCsv } from "../../suppression/csv.ts";
import { addSuppressions, allSuppressions, listSuppressions, removeSuppression, type Suppression } from "../../suppression/store.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { newSuppressionBody } from "../shared/suppressions-schemas.ts";
import { formatIssues } from "../shared/validate.ts";
import { confirmationPage, isConfirmed } from "./confirm.ts";
import { back, field, parseForm } from "./forms.ts";
import { actionButton, type Html, page, scroll, when } from "./layout.ts";

const enc = encodeURIComponent;
const HERE = "/admin/suppressions";
const PAGE_SIZE = 100;

function listPage(rows: Suppression[], o: { total: number; offset: number; q: string; now: Date }): Html {
  const pageLink = (offset: number, label: string) => html`<a href="${HERE}?q=${enc(o.q)}&offset=${offset}">${label}</a>`;
  return html`<form method="get" action="${HERE}" class="bar"><input name="q" value="${o.q}" placeholder="address or reason" aria-label="search"> <button>Search</button></form>
<form method="post" action="${HERE}" class="bar"><input name="address" placeholder="someone@example.org" aria-label="address" required>
<input name="reason" placeholder="reason" aria-label="reason" required size="24">
<label>expires after <input name="days" type="number" min="1" max="36500" size="5" aria-label="expires after days"> days (empty: never)</label> <button>Suppress</button></form>
<form method="post" action="${HERE}/import" enctype="multipart/form-data" class="bar"><label>Import CSV <input type="file" name="csv" accept=".csv,text/csv" required></label> <button>Import</button>
<span class="muted">header address[,reason][,expires_at]; one bad line and nothing is imported</span> <a href="${HERE}/export">Export CSV</a></form>
<p class="muted">${o.total} address(es)${o.q ? html` matching “${o.q}”` : ""}. Expired entries no longer apply and are shown greyed.</p>
${
    rows.length === 0
      ? html`<p>No suppressed addresses.</p>`
      : scroll(html`<table><tr><th>address</th><th>reason</th><th>source</th><th>class</th><th>expires</th><th>added</th><th>by</th><th></th></tr>
${rows.map(
  (s) =>
    html`<tr class="${s.expiresAt && s.expiresAt.getTime() <= o.now.getTime() ? "muted" : ""}"><td>${s.address}</td><td>${s.reason}</td><td>${s.source}</td><td>${s.bounceClass ?? ""}</td><td>${s.expiresAt ? when(s.expiresAt) : "never"}</td><td>${when(s.createdAt)}</td><td>${s.createdBy}</td><td>${actionButton(`${HERE}/${enc(s.address)}/remove`, "remove")}</td></tr>`,
)}</table>`)
  }
<p class="pager">${o.offset > 0 ? pageLink(Math.max(0, o.offset - PAGE_SIZE), "← previous") : ""}${o.offset + rows.length < o.total ? pageLink(o.offset + PAGE_SIZE, "next →") : ""}</p>`;
}

export function suppressionRoutes(app: Hono, d: AdminDeps): void {
  app.get("/suppressions", async (c) => {
    const q = (c.req.query("q") ?? "").trim().slice(0, 320);
    const offset = Math.max(0, Math.min(Number.parseInt(c.req.query("offset") ?? "0", 10) || 0, Number.MAX_SAFE_INTEGER));
    const list = await listSuppressions(d.db, { search: q || undefined, limit: PAGE_SIZE, offset });
    return c.html(page("Suppression list", listPage(list.items, { total: list.total, offset, q, now: d.clock.now() }), { flash: c.req.query("msg"), here: HERE }));
  });

  app.get("/suppressions/export", async (c) => {
    const csv = suppressionsToCsv(await allSuppressions(d.db));
    return c.body(csv, 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="suppressions.csv"' });
  });

  app.post("/suppressions", async (c) => {
    const form = await parseForm(c);
    const now = d.clock.now();
    const days = field(form, "days");
    const parsed = newSuppressionBody.safeParse({ address: field(form, "address"), reason: field(form, "reason") });
    if (!parsed.success) {
      const issues = formatIssues(parsed.error.issues);
      throw new ApiError(400, `invalid ${issues[0]?.path || "form"}: ${issues[0]?.message ?? "?"}`, issues);
    }
    if (days !== "" && !/^\d{1,5}$/.test(days)) throw new ApiError(400, "invalid days: a whole number of days, or empty for never");
    const expiresAt = days !== "" && Number(days) > 0 ? new Date(now.getTime() + Number(days) * 86_400_000) : null;
    await addSuppressions(d.db, { entries: [{ address: parsed.data.address, reason: parsed.data.reason, expiresAt }], source: "manual", createdBy: "webadmin", now });
    return back(c, HERE, `suppressed ${parsed.data.address.toLowerCase()}${expiresAt ? ` until ${when(expiresAt)}` : ""}`);
  });

  app.post("/suppressions/import", async (c) => {
    const form = await parseForm(c);
    const file = form.csv;
    const text = file instanceof File ? await file.text() : typeof file === "string" ? file : "";
    const parsed = suppressionsFromCsv(text);
    if (!parsed.ok) {
      const issues = parsed.problems.map((p) => ({ path: `line ${p.line}`, message: p.problem }));
      // The first issue is repeated in the message; the error page lists the rest after it.
      throw new ApiError(400, `${issues.length} bad line(s), nothing was imported — line ${parsed.problems[0].line}: ${parsed.problems[0].problem}`, issues);
    }
    const imported = await addSuppressions(d.db, { entries: parsed.entries, source: "manual", createdBy: "webadmin:import", now: d.clock.now() });
    return back(c, HERE, `imported ${imported} address(es)`);
  });

  app.post("/suppressions/:address/remove", async (c) => {
    const address = c.req.param("address");
    const form = await parseForm(c);
    if (!isConfirmed(form)) {
      return confirmationPage(c, form, { title: `Remove ${address} from the suppression list?`, question: `Mail to ${address} will be relayed again.`, yes: `Yes, remove ${address}`, cancel: HERE });
    }
    if (!(await removeSuppression(d.db, address))) throw new ApiError(404, `${address} is not on the suppression list`);
    return back(c, HERE, `removed ${address} from the suppression list`);
  });
}
