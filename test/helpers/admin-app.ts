import { Hono } from "hono";
import type { Db } from "../../src/db/db.ts";
import { mountAdminApi } from "../../src/http/admin/api.ts";
import type { AdminDeps } from "../../src/http/shared/deps.ts";
import { LoginThrottle } from "../../src/http/shared/login-throttle.ts";
import { mountWebAdmin } from "../../src/http/webadmin/app.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";

/**
 * The admin HTTP surfaces on a test database, as the admin component mounts them: the API
 * (/api/v1) and the WebAdmin (/admin) on one Hono app with one deps object. One harness for the
 * API tests (`call`) and the WebAdmin tests (`browse`), in-process: no port, no member.
 */

export const TOKEN = "test-admin-token-0123456789abcdef";
/** The origin `browse` requests come from (the WebAdmin accepts same-origin posts only). */
export const ORIGIN = "http://localhost";

export interface AdminAppOptions {
  /** The wrong-token throttle both surfaces share; by default one with the default limits on the clock. */
  throttle?: (clock: ManualClock) => LoginThrottle;
}

export function adminApp(db: Db, clock = new ManualClock(Date.UTC(2026, 5, 1, 12)), o: AdminAppOptions = {}): { app: Hono; deps: AdminDeps; clock: ManualClock } {
  const deps: AdminDeps = { db, clock, logger: silentLogger, token: TOKEN, throttle: o.throttle ? o.throttle(clock) : new LoginThrottle(clock) };
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

export interface BrowseInit {
  /** GET without a body, POST with one, unless given. */
  method?: string;
  /** A form: URL-encoded fields, or multipart (a file upload). */
  body?: URLSearchParams | FormData;
  /** Sent as the Cookie header when given (a session). */
  cookie?: string;
  /** Bearer token, which the WebAdmin accepts like a session: the test token unless given; null = none. */
  token?: string | null;
  /** The Origin header: ORIGIN unless given; null = none (what a cross-site or scripted post may send). */
  origin?: string | null;
}

/** One browser-like WebAdmin request (path under /admin). */
export function browse(app: Hono, path: string, init: BrowseInit = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.cookie) headers.cookie = init.cookie;
  if (init.origin !== null) headers.origin = init.origin ?? ORIGIN;
  if (init.body instanceof URLSearchParams) headers["content-type"] = "application/x-www-form-urlencoded";
  return Promise.resolve(app.request(`${ORIGIN}${path}`, { method: init.method ?? (init.body ? "POST" : "GET"), headers, body: init.body }));
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
