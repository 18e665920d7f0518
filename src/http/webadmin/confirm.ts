import type { Context } from "hono";
import { html } from "hono/html";
import { page, type Html } from "./layout.ts";
import type { Form } from "./forms.ts";

export const CONFIRM_FIELD = "confirm";

/**
 * Destructive actions (delete, bounce, removing a domain or account) take two posts: the first
 * answers with a page that says what will be lost and repeats the form with confirm=yes. Works
 * without JavaScript, and a stray click or a replayed form never destroys anything by itself.
 */
export function isConfirmed(form: Form): boolean {
  return form[CONFIRM_FIELD] === "yes";
}

export function confirmationPage(c: Context, form: Form, o: { title: string; question: string; consequence?: string; yes: string; cancel: string }): Response | Promise<Response> {
  const hidden: Html[] = [];
  for (const [name, value] of Object.entries(form)) {
    if (name === CONFIRM_FIELD) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === "string") hidden.push(html`<input type="hidden" name="${name}" value="${v}">`);
    }
  }
  const url = new URL(c.req.url);
  const body = html`<p>${o.question}</p>${o.consequence ? html`<p class="danger">${o.consequence}</p>` : ""}
<form method="post" action="${url.pathname}${url.search}">${hidden}<input type="hidden" name="${CONFIRM_FIELD}" value="yes">
<button class="danger" id="confirm-yes">${o.yes}</button> <a href="${o.cancel}">Cancel</a></form>`;
  return c.html(page(o.title, body), 200);
}
