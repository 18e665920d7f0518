import type { Context, Hono } from "hono";
import { html } from "hono/html";
import { DEFAULT_SETTINGS, isSettingKey, loadSettings, resetSetting, type SettingKey, SettingError, setSetting, type Settings } from "../../cluster/settings.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { back, field, parseForm } from "./forms.ts";
import { type Html, page, scroll } from "./layout.ts";

const enc = encodeURIComponent;

/** The form's text as the setting's type; a message naming the problem when it is not one. */
export function parseSettingValue(key: SettingKey, text: string): number | string | boolean {
  const def = DEFAULT_SETTINGS[key];
  if (typeof def === "number") {
    if (!/^-?\d+(\.\d+)?$/.test(text)) throw new SettingError(`${key} takes a number (got "${text}")`);
    return Number(text);
  }
  if (typeof def === "boolean") {
    if (text !== "true" && text !== "false") throw new SettingError(`${key} is true or false (got "${text}")`);
    return text === "true";
  }
  return text;
}

interface Rejected {
  key: SettingKey;
  text: string;
  message: string;
}

function input(key: SettingKey, value: Settings[SettingKey], rejected: Rejected | null): Html {
  const shown = rejected?.key === key ? rejected.text : String(value);
  if (typeof DEFAULT_SETTINGS[key] === "boolean") {
    return html`<select name="value" aria-label="${key}">${["true", "false"].map((v) => html`<option ${v === shown ? "selected" : ""}>${v}</option>`)}</select>`;
  }
  return html`<input name="value" value="${shown}" aria-label="${key}" size="${typeof DEFAULT_SETTINGS[key] === "number" ? 10 : 24}">`;
}

function settingsTable(current: Settings, onlyChanged: boolean, rejected: Rejected | null): Html {
  const keys = (Object.keys(DEFAULT_SETTINGS) as SettingKey[]).filter((k) => !onlyChanged || current[k] !== DEFAULT_SETTINGS[k]);
  const changed = (Object.keys(DEFAULT_SETTINGS) as SettingKey[]).filter((k) => current[k] !== DEFAULT_SETTINGS[k]).length;
  return html`<p class="bar"><span>${changed} of ${Object.keys(DEFAULT_SETTINGS).length} settings differ from their default.</span>
${onlyChanged ? html`<a href="/admin/settings">show all</a>` : html`<a href="/admin/settings?changed=1">show only the changed ones</a>`}</p>
<p class="muted">Cluster-wide: stored in the database, every member reads them within 30 seconds.</p>
${scroll(html`<table><tr><th>setting</th><th>value</th><th>default</th><th></th></tr>
${keys.map((k) => {
  const isChanged = current[k] !== DEFAULT_SETTINGS[k];
  return html`<tr id="setting-${k}"><td class="${isChanged ? "changed" : ""}">${k}${isChanged ? html` <span class="muted">(changed)</span>` : ""}</td>
<td><form class="inline" method="post" action="/admin/settings/${enc(k)}">${input(k, current[k], rejected)} <button>Save</button></form>
${rejected?.key === k ? html`<div class="error" role="alert">${rejected.message}</div>` : ""}</td>
<td>${String(DEFAULT_SETTINGS[k]) === "" ? html`<span class="muted">(empty)</span>` : String(DEFAULT_SETTINGS[k])}</td>
<td>${isChanged ? html`<form class="inline" method="post" action="/admin/settings/${enc(k)}/reset"><button>Reset to default</button></form>` : ""}</td></tr>`;
})}</table>`)}`;
}

export function settingRoutes(app: Hono, d: AdminDeps): void {
  const show = async (c: Context, rejected: Rejected | null = null) => {
    const body = settingsTable(await loadSettings(d.db), c.req.query("changed") === "1", rejected);
    return c.html(page("Settings", body, { flash: c.req.query("msg"), here: "/admin/settings" }), rejected ? 400 : 200);
  };
  app.get("/settings", (c) => show(c));

  app.post("/settings/:key", async (c) => {
    const key = c.req.param("key");
    if (!isSettingKey(key)) throw new ApiError(404, `unknown setting "${key}"`);
    const text = field(await parseForm(c), "value");
    try {
      const value = parseSettingValue(key, text);
      await setSetting(d.db, key, value);
      d.logger.info({ key, value, via: "webadmin" }, "setting changed by administrator");
      return back(c, "/admin/settings", `${key} = ${String(value)}`);
    } catch (err) {
      // Shown next to the field, with what was typed; the stored value is untouched.
      if (err instanceof SettingError) return show(c, { key, text, message: err.message });
      throw err;
    }
  });

  app.post("/settings/:key/reset", async (c) => {
    const key = c.req.param("key");
    if (!isSettingKey(key)) throw new ApiError(404, `unknown setting "${key}"`);
    await resetSetting(d.db, key);
    d.logger.info({ key, via: "webadmin" }, "setting reset by administrator");
    return back(c, "/admin/settings", `${key} back to its default (${String(DEFAULT_SETTINGS[key])})`);
  });
}
