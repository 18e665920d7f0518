import type { Context, Hono } from "hono";
import { html } from "hono/html";
import type { RuleSet } from "../../rules/model.ts";
import {
  getAccountRules,
  getDomainRules,
  getSubmissionRules,
  parseSubmissionScope,
  setAccountRules,
  setDomainRules,
  setSubmissionRules,
} from "../../rules/store.ts";
import { RuleSetError } from "../../rules/validate.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { back, field, parseForm } from "./forms.ts";
import { type Html, page } from "./layout.ts";

/** Which rule set a page edits: "cluster", "member:NAME", "domain:NAME" or "account:ADDRESS". */
type Target = { kind: "cluster" } | { kind: "member" | "domain" | "account"; name: string };

function parseTarget(raw: string): Target {
  if (raw === "" || raw === "cluster") return { kind: "cluster" };
  const m = /^(member|domain|account):(.+)$/.exec(raw);
  if (!m) throw new ApiError(400, `rule set "${raw}": say cluster, member:NAME, domain:NAME or account:ADDRESS`);
  return { kind: m[1] as "member" | "domain" | "account", name: m[2].trim() };
}

const label = (t: Target) => (t.kind === "cluster" ? "cluster" : `${t.kind}:${t.name}`);

function load(d: AdminDeps, t: Target): Promise<RuleSet> {
  if (t.kind === "cluster") return getSubmissionRules(d.db, "cluster");
  if (t.kind === "member") return getSubmissionRules(d.db, parseSubmissionScope(`member:${t.name}`));
  if (t.kind === "domain") return getDomainRules(d.db, t.name);
  return getAccountRules(d.db, t.name);
}

function store(d: AdminDeps, t: Target, input: unknown): Promise<RuleSet> {
  if (t.kind === "cluster") return setSubmissionRules(d.db, "cluster", input);
  if (t.kind === "member") return setSubmissionRules(d.db, parseSubmissionScope(`member:${t.name}`), input);
  if (t.kind === "domain") return setDomainRules(d.db, t.name, input);
  return setAccountRules(d.db, t.name, input);
}

const WHERE: Record<Target["kind"], string> = {
  cluster: "cluster-wide rules: once per message at submission, on every member",
  member: "server-wide rules of one member: at submission, after the cluster-wide ones",
  domain: "domain rules: at delivery, before the account's own",
  account: "account rules: at delivery, on the backend that owns the account",
};

function editor(t: Target, text: string, error: string | null): Html {
  return html`<form method="get" action="/admin/rules" class="bar"><label>rule set <input name="set" value="${label(t)}" size="30" aria-label="rule set"></label>
<button>Open</button> <span class="muted">cluster, member:NAME, domain:NAME or account:ADDRESS (docs/rules.md)</span></form>
<p>${WHERE[t.kind]}.</p>
<form method="post" action="/admin/rules"><input type="hidden" name="set" value="${label(t)}">
<textarea name="rules" rows="18" style="width:100%;font:12px monospace" aria-label="rules JSON">${text}</textarea>
${error ? html`<div class="error" role="alert" id="rules-error">${error}</div>` : ""}
<p><button>Save rule set</button> <span class="muted">{"rules": []} clears it.</span></p></form>`;
}

export function ruleRoutes(app: Hono, d: AdminDeps): void {
  const show = async (c: Context, t: Target, text: string | null, error: string | null) => {
    const body = editor(t, text ?? JSON.stringify(await load(d, t), null, 2), error);
    return c.html(page(`Rules: ${label(t)}`, body, { flash: c.req.query("msg"), here: "/admin/rules" }), error ? 400 : 200);
  };

  app.get("/rules", (c) => show(c, parseTarget(c.req.query("set")?.trim() ?? ""), null, null));

  app.post("/rules", async (c) => {
    const form = await parseForm(c);
    const t = parseTarget(field(form, "set"));
    const text = typeof form.rules === "string" ? form.rules : "";
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch (err) {
      return show(c, t, text, `not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      const saved = await store(d, t, input);
      d.logger.info({ set: label(t), rules: saved.rules.length, via: "webadmin" }, "rule set replaced by administrator");
      return back(c, `/admin/rules?set=${encodeURIComponent(label(t))}`, `saved ${saved.rules.length} rule(s) for ${label(t)}`);
    } catch (err) {
      // The validator's own words, at the path it names; what was typed stays in the editor.
      if (err instanceof RuleSetError) return show(c, t, text, `invalid at ${err.path}: ${err.reason}`);
      throw err;
    }
  });
}
