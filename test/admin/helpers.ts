import { Hono } from "hono";
import type { Db } from "../../src/db/db.ts";
import { mountAdminApi } from "../../src/http/admin/api.ts";
import type { AdminDeps } from "../../src/http/shared/deps.ts";
import { mountWebAdmin } from "../../src/http/webadmin/app.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";

export const TOKEN = "test-admin-token-0123456789abcdef";

export function adminApp(db: Db, clock = new ManualClock(Date.UTC(2026, 5, 1, 12))): { app: Hono; deps: AdminDeps; clock: ManualClock } {
  const deps: AdminDeps = { db, clock, logger: silentLogger, token: TOKEN };
  const app = new Hono();
  mountAdminApi(app, deps);
  mountWebAdmin(app, deps);
  return { app, deps, clock };
}

export interface ApiCall {
  status: number;
  body: unknown;
  headers: Headers;
}

/** One JSON call to the admin API with the test token (or the one given; null = none). */
export async function call(app: Hono, method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<ApiCall> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await app.request(`/api/v1${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** The `issues` of a 400 answer, as path strings. */
export function issuePaths(body: unknown): string[] {
  if (!body || typeof body !== "object" || !("issues" in body) || !Array.isArray(body.issues)) return [];
  return body.issues.map((i: { path: string }) => i.path);
}

export function items<T = Record<string, unknown>>(body: unknown): T[] {
  if (!body || typeof body !== "object" || !("items" in body) || !Array.isArray(body.items)) throw new Error(`no items in ${JSON.stringify(body)}`);
  return body.items as T[];
}
