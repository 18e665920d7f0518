/** Reading the admin API's JSON answers back into the types the database side returns. */

export type Json = Record<string, unknown>;

export function obj(value: unknown, what: string): Json {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`admin API: expected an object for ${what}`);
  return Object.fromEntries(Object.entries(value));
}

export function list(value: unknown, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`admin API: expected a list for ${what}`);
  return value.map((v) => obj(v, what));
}

/** The `items` of a listing answer. */
export function items(body: unknown, what: string): Json[] {
  return list(obj(body, what).items, what);
}

/** A JSON value as a table cell: timestamps stay ISO strings, which print as the database's Dates do. */
export function cell(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return JSON.stringify(value);
}
