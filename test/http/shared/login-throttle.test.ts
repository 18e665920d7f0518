import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { detectRuntime } from "../../../adapters/runtime/index.ts";
import { LoginThrottle } from "../../../src/http/shared/login-throttle.ts";
import { ManualClock } from "../../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, TOKEN } from "../../helpers/admin-app.ts";

// Wrong admin tokens are throttled per client address: after 10 the address gets 429 with
// Retry-After (API and WebAdmin login share the count), other addresses are not affected.
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.drop();
});

function build() {
  return adminApp(tdb.storage.db, new ManualClock(Date.UTC(2026, 5, 1, 12)), { throttle: (clock) => new LoginThrottle(clock, { maxFailures: 10, lockoutSeconds: 300 }) });
}

/** What @hono/node-server hands the fetch handler: the IncomingMessage, whose socket knows the peer. */
const from = (ip: string) => ({ incoming: { socket: { remoteAddress: ip } } });

const api = (app: Hono, ip: string, token: string) => app.request("/api/v1/domains", { headers: { authorization: `Bearer ${token}` } }, from(ip));
const login = (app: Hono, ip: string, token: string) =>
  app.request("/admin/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" }, body: `token=${encodeURIComponent(token)}` }, from(ip));

describe("admin token throttling", () => {
  it("10 wrong bearer tokens → 429 with Retry-After, even for the right token, until the lockout ends; other addresses unaffected", async () => {
    const { app, clock } = build();
    for (let i = 0; i < 10; i++) expect((await api(app, "192.0.2.1", `wrong-${i}`)).status).toBe(401);
    const locked = await api(app, "192.0.2.1", TOKEN);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBe(300);
    expect(await locked.json()).toMatchObject({ error: expect.stringContaining("too many wrong tokens") as string });
    expect((await api(app, "192.0.2.2", TOKEN)).status).toBe(200);
    clock.advance(299_000);
    expect(Number((await api(app, "192.0.2.1", TOKEN)).headers.get("retry-after"))).toBe(1);
    clock.advance(1_000);
    expect((await api(app, "192.0.2.1", TOKEN)).status).toBe(200);
  });

  it("a request without a token is no guess and is not counted", async () => {
    const { app } = build();
    for (let i = 0; i < 20; i++) expect((await app.request("/api/v1/domains", {}, from("192.0.2.3"))).status).toBe(401);
    expect((await api(app, "192.0.2.3", TOKEN)).status).toBe(200);
  });

  it("the WebAdmin login form counts with the API: 429 with Retry-After after 10 wrong tokens in all", async () => {
    const { app } = build();
    for (let i = 0; i < 5; i++) expect((await api(app, "198.51.100.1", `wrong-${i}`)).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await login(app, "198.51.100.1", `nope-${i}`)).status).toBe(401);
    const locked = await login(app, "198.51.100.1", TOKEN);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await login(app, "198.51.100.2", TOKEN)).status).toBe(303);
  });

  it("on a real HTTP server of this runtime the peer address is found and throttled", async () => {
    const { app } = build();
    const server = await (await detectRuntime()).serveHttp(app.fetch, { port: 0, hostname: "127.0.0.1" });
    try {
      const get = (token: string) => fetch(`http://127.0.0.1:${server.port}/api/v1/domains`, { headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < 10; i++) expect((await get(`wrong-${i}`)).status).toBe(401);
      const locked = await get(TOKEN);
      expect(locked.status).toBe(429);
      expect(locked.headers.get("retry-after")).toBe("300");
      // The lock is on the peer's address, not on the shared bucket of requests whose address is unknown.
      expect((await app.request("/api/v1/domains", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
