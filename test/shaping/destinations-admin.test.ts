import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { destinationsClear, destinationsLimit, destinationsList, destinationsSuspend } from "../../src/cli/commands/destinations.ts";
import { date, queryRows } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { adminApp, browse, call } from "../helpers/admin-app.ts";

const T0 = Date.UTC(2026, 5, 1, 12);
let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];

function collector() {
  const lines: string[] = [];
  return { out: (l: string) => lines.push(l), lines, json: () => JSON.parse(lines.join("\n")) as Record<string, unknown> };
}

async function nextAttempts(): Promise<Map<string, number>> {
  const rows = await queryRows(tdb.storage.db, sql`SELECT address, next_attempt_at FROM recipients ORDER BY id`);
  return new Map(rows.map((r) => [String(r.address), date(r.next_attempt_at).getTime()]));
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, clock } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  clock.set(T0);
  await tdb.storage.db.execute(sql`TRUNCATE messages, recipients, shaping_suspensions, shaping_limits RESTART IDENTITY CASCADE`);
  await submitMessage(tdb.storage.db, {
    envelope: { sender: "a@origin.test", recipients: [{ address: "one@far.test" }, { address: "two@near.test" }] },
    content: Buffer.from("Subject: x\r\n\r\nx\r\n"),
    submittedBy: "t",
    processor: "t",
    now: clock.now(),
  });
});

describe("/api/v1/destinations", () => {
  it("lists defaults and the seeded reply rules; sets and removes limits", async () => {
    const list = await call(app, "GET", "/destinations");
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ enabled: true, defaults: { maxConnections: 20, messagesPerMinute: null, connectionsPerMinute: null }, suspensions: [], limits: [], slots: [] });
    const rules = (list.body as { rules: { pattern: string; action: string }[] }).rules;
    expect(rules.length).toBeGreaterThanOrEqual(2);
    expect(rules.some((r) => new RegExp(r.pattern, "i").test("421 4.7.0 Try again later"))).toBe(true);

    const set = await call(app, "PUT", "/destinations/Far.Test/limits", { maxConnections: 2, messagesPerMinute: 30 });
    expect(set).toMatchObject({ status: 200, body: { destination: "far.test", maxConnections: 2, messagesPerMinute: 30, connectionsPerMinute: null } });
    expect((await call(app, "GET", "/destinations")).body).toMatchObject({ limits: [{ destination: "far.test", maxConnections: 2 }] });
    expect(await call(app, "DELETE", "/destinations/far.test/limits")).toMatchObject({ status: 200, body: { removed: "far.test" } });
    expect((await call(app, "DELETE", "/destinations/far.test/limits")).status).toBe(404);
  });

  it("suspends a domain for the cluster (its queued recipients wait) and lifts it (they are due again)", async () => {
    const s = await call(app, "POST", "/destinations/far.test/suspend", { seconds: 600, reason: "provider asked" });
    expect(s).toMatchObject({ status: 200, body: { site: "mx:far.test", action: "suspend", until: new Date(T0 + 600_000).toISOString(), domains: ["far.test"] } });
    let next = await nextAttempts();
    expect(next.get("one@far.test")).toBe(T0 + 600_000);
    expect(next.get("two@near.test")).toBe(T0);
    expect((await call(app, "GET", "/destinations")).body).toMatchObject({ suspensions: [{ site: "mx:far.test", reason: "suspended by an operator: provider asked" }] });

    clock.set(T0 + 1000);
    const cleared = await call(app, "DELETE", "/destinations/far.test/suspension");
    expect(cleared).toMatchObject({ status: 200, body: { cleared: ["mx:far.test"], recipients: 1 } });
    next = await nextAttempts();
    expect(next.get("one@far.test")).toBe(T0 + 1000);
    expect((await call(app, "GET", "/destinations")).body).toMatchObject({ suspensions: [] });
    expect(await call(app, "DELETE", "/destinations/far.test/suspension")).toMatchObject({ status: 404, body: { error: "far.test is not suspended" } });
  });

  it("answers bad input with a JSON 400 and changes nothing", async () => {
    const bad: Array<[string, string, unknown]> = [
      ["PUT", "/destinations/far.test/limits", { maxConnections: 0 }],
      ["PUT", "/destinations/far.test/limits", { maxConnections: "many" }],
      ["PUT", "/destinations/far.test/limits", { colour: "red" }],
      ["PUT", "/destinations/far.test/limits", {}],
      ["PUT", "/destinations/far.test/limits", "{not json"],
      ["PUT", "/destinations/bad%20name!/limits", { maxConnections: 3 }],
      ["POST", "/destinations/far.test/suspend", { seconds: -5 }],
      ["POST", "/destinations/rules", { pattern: "([", action: "suspend", seconds: 60 }],
      ["POST", "/destinations/rules", { pattern: "x", action: "slow", seconds: 60 }],
      ["POST", "/destinations/rules", { pattern: "x", action: "explode", seconds: 60 }],
      ["DELETE", "/destinations/rules/abc", undefined],
    ];
    for (const [method, path, body] of bad) {
      const r = await call(app, method, path, body);
      expect({ method, path, status: r.status }).toEqual({ method, path, status: 400 });
      expect(typeof (r.body as { error?: unknown }).error).toBe("string");
    }
    const [n] = await queryRows(tdb.storage.db, sql`SELECT (SELECT count(*) FROM shaping_limits)::int AS limits, (SELECT count(*) FROM shaping_suspensions)::int AS susp`);
    expect([Number(n.limits), Number(n.susp)]).toEqual([0, 0]);
  });

  it("adds and removes a reply rule", async () => {
    const added = await call(app, "POST", "/destinations/rules", { pattern: "^451 4\\.7\\.1 .*slow down", action: "slow", seconds: 120, maxConnections: 1 });
    expect(added).toMatchObject({ status: 201, body: { action: "slow", seconds: 120, maxConnections: 1 } });
    const id = (added.body as { id: number }).id;
    expect(((await call(app, "GET", "/destinations/rules")).body as { items: { id: number }[] }).items.map((r) => r.id)).toContain(id);
    expect((await call(app, "DELETE", `/destinations/rules/${id}`)).status).toBe(200);
    expect((await call(app, "DELETE", `/destinations/rules/${id}`)).status).toBe(404);
  });
});

describe("mailcluster destinations (CLI commands)", () => {
  it("limit, suspend, list, clear", async () => {
    const c1 = collector();
    await destinationsLimit(tdb.storage.db, "mx:mx1.far.test", { connections: "3", messagesPerMinute: "0" }, c1.out);
    expect(c1.lines.join("\n")).toBe("mx:mx1.far.test: connections: 3, messages/min: unlimited, connections/min: default");
    await expect(destinationsLimit(tdb.storage.db, "far.test", { connections: "lots" })).rejects.toThrow(/whole number/);

    const c2 = collector();
    await destinationsSuspend(tdb.storage.db, "far.test", "300", { reason: "test" }, clock.now(), c2.out);
    expect(c2.lines[0]).toBe(`mx:far.test suspended until ${new Date(T0 + 300_000).toISOString()}`);

    const c3 = collector();
    await destinationsList(tdb.storage.db, true, clock.now(), c3.out);
    expect(c3.json()).toMatchObject({ suspensions: [{ site: "mx:far.test", domains: ["far.test"] }], limits: [{ destination: "mx:mx1.far.test", maxConnections: 3, messagesPerMinute: 0 }] });
    const c4 = collector();
    await destinationsList(tdb.storage.db, false, clock.now(), c4.out);
    expect(c4.lines.join("\n")).toContain("mx:far.test");

    const c5 = collector();
    await destinationsClear(tdb.storage.db, "mx:far.test", false, clock.now(), c5.out);
    expect(c5.lines[0]).toBe("lifted: mx:far.test (1 recipients due now)");
    await expect(destinationsClear(tdb.storage.db, "mx:far.test", false, clock.now())).rejects.toThrow(/not suspended/);
  });
});

describe("WebAdmin Destinations page", () => {
  const web = (path: string, body?: Record<string, string>) => browse(app, path, body ? { body: new URLSearchParams(body) } : {});

  it("shows suspensions and limits, suspends, lifts, refuses bad input", async () => {
    const suspended = await web("/admin/destinations/suspend", { destination: "far.test", seconds: "120", reason: "" });
    expect(suspended.status).toBe(303);
    expect((await web("/admin/destinations/limits", { destination: "near.test", maxConnections: "4", messagesPerMinute: "", connectionsPerMinute: "" })).status).toBe(303);
    const pageHtml = await (await web("/admin/destinations")).text();
    expect(pageHtml).toContain('href="/admin/destinations"');
    expect(pageHtml).toContain("mx:far.test");
    expect(pageHtml).toContain("near.test");
    expect(pageHtml).toMatch(/try again later/);
    expect((await web("/admin/destinations/limits", { destination: "near.test", maxConnections: "many" })).status).toBe(400);
    expect((await web(`/admin/destinations/${encodeURIComponent("mx:far.test")}/clear`, {})).status).toBe(303);
    expect((await web(`/admin/destinations/${encodeURIComponent("mx:far.test")}/clear`, {})).status).toBe(404);
    expect(await (await web("/admin/destinations")).text()).not.toContain("mx:far.test");
  });
});
