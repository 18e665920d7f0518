import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

// Interpolations in html`` are escaped by hono; nothing user-supplied is ever inserted raw.
const STYLE = `body{font:14px system-ui,sans-serif;margin:0;color:#222}nav{background:#234;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:13px}
th{background:#eee}form.inline{display:inline;margin:0}button{font-size:12px}.flash{background:#efe;border:1px solid #9c9;padding:.5em}
.error{background:#fee;border:1px solid #c99;padding:.5em}.dead{color:#a00}.alive{color:#070}`;

export function page(title: string, body: Html, opts: { flash?: string | null; error?: string | null; nav?: boolean } = {}): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} — mailcluster</title><style>${STYLE}</style></head>
<body>${opts.nav === false
    ? ""
    : html`<nav><a href="/admin">Overview</a><a href="/admin/queue">Queue</a><a href="/admin/domains">Domains</a><a href="/admin/accounts">Accounts</a>
<form class="inline" method="post" action="/admin/logout"><button>Log out</button></form></nav>`}
<main><h1>${title}</h1>
${opts.flash ? html`<p class="flash">${opts.flash}</p>` : ""}
${opts.error ? html`<p class="error">${opts.error}</p>` : ""}
${body}</main></body></html>`;
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
