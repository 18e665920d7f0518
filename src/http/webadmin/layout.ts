import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

// Interpolations in html`` are escaped by hono; nothing user-supplied is ever inserted raw.
// Phones: the nav wraps, wide tables scroll inside their own box instead of the page.
const STYLE = `*{box-sizing:border-box}body{font:14px system-ui,sans-serif;margin:0;color:#222}
nav{background:#234;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.3em 1.1em;align-items:center}nav a{color:#fff;text-decoration:none}
nav a.here{text-decoration:underline}nav form{margin-left:auto}
main{padding:1em;max-width:100%}h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
.scroll{overflow-x:auto;max-width:100%}main>table{display:block;overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:13px;vertical-align:top}
th{background:#eee}form.inline{display:inline;margin:0}button{font-size:12px;cursor:pointer}input,select{font-size:13px;max-width:100%}
.flash{background:#efe;border:1px solid #9c9;padding:.5em}.error{background:#fee;border:1px solid #c99;padding:.5em}.dead{color:#a00}.alive{color:#070}
.changed{font-weight:600}.muted{color:#777}.danger{color:#a00}pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.bar{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center;margin:.4em 0}.pager a{margin-right:1em}`;

const NAV: ReadonlyArray<[string, string]> = [
  ["/admin", "Overview"],
  ["/admin/members", "Members"],
  ["/admin/queue", "Queue"],
  ["/admin/log", "Delivery log"],
  ["/admin/domains", "Domains"],
  ["/admin/accounts", "Accounts"],
  ["/admin/aliases", "Aliases"],
  ["/admin/routes", "Routes"],
  ["/admin/suppressions", "Suppressions"],
  ["/admin/destinations", "Destinations"],
  ["/admin/rules", "Rules"],
  ["/admin/settings", "Settings"],
];

export function page(title: string, body: Html, opts: { flash?: string | null; error?: string | null; nav?: boolean; here?: string; refreshSeconds?: number } = {}): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}">` : ""}
<title>${title} — mailcluster</title><style>${STYLE}</style></head>
<body>${opts.nav === false
    ? ""
    : html`<nav>${NAV.map(([href, label]) => html`<a href="${href}" class="${opts.here === href ? "here" : ""}">${label}</a>`)}
<form class="inline" method="post" action="/admin/logout"><button>Log out</button></form></nav>`}
<main><h1>${title}</h1>
${opts.flash ? html`<p class="flash" role="status">${opts.flash}</p>` : ""}
${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ""}
${body}</main></body></html>`;
}

/** A table that scrolls sideways on a narrow screen rather than widening the page. */
export function scroll(table: Html): Html {
  return html`<div class="scroll">${table}</div>`;
}

/** A one-button POST form (actions never ride on GET links). */
export function actionButton(action: string, label: string): Html {
  return html`<form class="inline" method="post" action="${action}"><button>${label}</button></form>`;
}

export function when(d: Date | null): string {
  return d ? d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

export function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

export const REFRESH_SECONDS = 15;

/**
 * Auto-refresh as a toggle in the URL (?refresh=on|off): on by default where a page only shows
 * figures (the overview), opt-in where it holds forms or checkboxes a reload would reset.
 */
export function liveRefresh(requestUrl: string, defaultOn: boolean): { refreshSeconds: number | undefined; control: Html } {
  const url = new URL(requestUrl);
  const asked = url.searchParams.get("refresh");
  const live = asked === null ? defaultOn : asked === "on";
  url.searchParams.set("refresh", live ? "off" : "on");
  const toggle = `${url.pathname}?${url.searchParams.toString()}`;
  return {
    refreshSeconds: live ? REFRESH_SECONDS : undefined,
    control: live
      ? html`<span class="muted">refreshes every ${REFRESH_SECONDS} s — <a href="${toggle}" id="refresh-toggle">pause</a></span>`
      : html`<a href="${toggle}" id="refresh-toggle" class="muted">${defaultOn ? "resume auto-refresh" : "auto-refresh"}</a>`,
  };
}
