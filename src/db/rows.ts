import { type SQL, sql } from "drizzle-orm";
import type { Executor } from "./db.ts";

export type Row = Record<string, unknown>;

/**
 * Run raw SQL and return its rows. postgres.js answers with an array, PGlite with
 * { rows }: this is the one place that knows.
 */
export async function queryRows(db: Executor, query: SQL): Promise<Row[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as Row[];
  if (result && typeof result === "object" && "rows" in result) {
    const rows = result.rows;
    if (Array.isArray(rows)) return rows as Row[];
  }
  throw new Error("unexpected result shape from db.execute");
}

/** Drivers differ in how they hand back int8 (string, bigint or number). */
export function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint" || typeof value === "string") return Number(value);
  throw new Error(`expected a number, got ${typeof value}`);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function date(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "string" || typeof value === "number") return new Date(value);
  throw new Error(`expected a timestamp, got ${typeof value}`);
}

export function dateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : date(value);
}

export function str(value: unknown): string {
  if (typeof value === "string") return value;
  throw new Error(`expected a string, got ${typeof value}`);
}

export function strOrNull(value: unknown): string | null {
  // Driver values (text, numbers, bigints, Dates) print with their own toString.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return value === null || value === undefined ? null : String(value);
}


/**
 * A Postgres array literal for one text parameter, cast in SQL (`${pgArray(x)}::int[]`).
 * postgres.js and PGlite serialise JS arrays differently; a literal means the same to both.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  const items = values.map((v) => {
    if (v === null) return "NULL";
    if (typeof v === "number") return String(v);
    return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

/**
 * A timestamptz parameter. Raw SQL gets an ISO string with an explicit cast: drizzle's
 * postgres.js session cannot bind a Date in sql`` templates, PGlite can; a string suits both.
 */
export function ts(value: Date): SQL {
  return sql`${value.toISOString()}::timestamptz`;
}
