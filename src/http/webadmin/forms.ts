import type { Context } from "hono";

export type Form = Record<string, string | File | (string | File)[]>;

/** Back to a WebAdmin page with a message; only local paths, so the redirect cannot be abused. */
export function back(c: Context, fallback: string, msg: string, wanted = c.req.query("back")) {
  const to = wanted && wanted.startsWith("/admin") && !wanted.startsWith("//") ? wanted : fallback;
  return c.redirect(`${to}${to.includes("?") ? "&" : "?"}msg=${encodeURIComponent(msg)}`, 303);
}

/** One text field of a parsed form, trimmed; "" when absent. */
export function field(form: Record<string, unknown>, name: string): string {
  const v = form[name];
  return typeof v === "string" ? v.trim() : "";
}

/** Every value of a repeated field (checkboxes). */
export function fields(form: Form, name: string): string[] {
  const v = form[name];
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.filter((x): x is string => typeof x === "string").map((x) => x.trim());
}

/** Repeated fields arrive as arrays only when asked for. */
export function parseForm(c: Context): Promise<Form> {
  return c.req.parseBody({ all: true });
}
