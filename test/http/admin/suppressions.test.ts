import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { num, queryRows } from "../../../src/db/rows.ts";
import { parseCsv, suppressionsFromCsv } from "../../../src/suppression/csv.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, call, issuePaths, items, TOKEN } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];
const T0 = Date.UTC(2026, 5, 1, 12);

const rows = async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM suppressions`))[0].n);

async function csvCall(method: string, path: string, body?: string, type = "text/csv") {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers["content-type"] = type;
  const res = await app.request(`/api/v1${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get("content-type") ?? "", json: () => JSON.parse(text) as Record<string, unknown> };
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
  await tdb.storage.db.execute(sql`TRUNCATE suppressions`);
});

describe("suppression list over the admin API", () => {
  it("adds, shows, lists with search and paging, removes", async () => {
    const added = await call(app, "POST", "/suppressions", { address: "Bob@Example.ORG", reason: "asked to stop", expiresAt: "2026-07-01T00:00:00Z" });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      address: "bob@example.org",
      reason: "asked to stop",
      source: "manual",
      bounceClass: null,
      createdAt: new Date(T0).toISOString(),
      expiresAt: "2026-07-01T00:00:00.000Z",
      createdBy: "api",
    });
    for (let i = 0; i < 5; i++) expect((await call(app, "POST", "/suppressions", { address: `u${i}@other.test`, reason: `r${i}` })).status).toBe(201);

    const page = await call(app, "GET", "/suppressions?limit=2&offset=1");
    expect(page.body).toMatchObject({ total: 6, limit: 2, offset: 1 });
    expect(items<{ address: string }>(page.body).map((i) => i.address)).toEqual(["u0@other.test", "u1@other.test"]);
    const found = await call(app, "GET", "/suppressions?search=EXAMPLE");
    expect(items<{ address: string }>(found.body).map((i) => i.address)).toEqual(["bob@example.org"]);
    // LIKE wildcards are literal.
    expect((await call(app, "GET", "/suppressions?search=%25")).body).toMatchObject({ total: 0 });

    expect((await call(app, "GET", "/suppressions/BOB@example.org")).status).toBe(200);
    expect((await call(app, "DELETE", "/suppressions/bob@example.org")).body).toEqual({ removed: "bob@example.org" });
    const again = await call(app, "DELETE", "/suppressions/bob@example.org");
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: "bob@example.org is not on the suppression list" });
    expect(await rows()).toBe(5);
  });

  it("?active=true leaves out expired entries (the injected clock decides)", async () => {
    await call(app, "POST", "/suppressions", { address: "soon@x.test", reason: "r", expiresAt: new Date(T0 + 60_000).toISOString() });
    await call(app, "POST", "/suppressions", { address: "forever@x.test", reason: "r" });
    expect((await call(app, "GET", "/suppressions?active=true")).body).toMatchObject({ total: 2 });
    clock.set(T0 + 60_000);
    expect(items<{ address: string }>((await call(app, "GET", "/suppressions?active=true")).body).map((i) => i.address)).toEqual(["forever@x.test"]);
    expect((await call(app, "GET", "/suppressions")).body).toMatchObject({ total: 2 });
  });

  it("refuses bad input precisely and writes nothing", async () => {
    const bad = await call(app, "POST", "/suppressions", { address: "not an address", reason: "" });
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.body).sort()).toEqual(["address", "reason"]);
    const past = await call(app, "POST", "/suppressions", { address: "a@b.test", reason: "r", expiresAt: "2020-01-01T00:00:00Z" });
    expect(past.status).toBe(400);
    expect(issuePaths(past.body)).toEqual(["expiresAt"]);
    expect((await call(app, "POST", "/suppressions", { address: "a@b.test", reason: "r", extra: 1 })).status).toBe(400);
    expect(await rows()).toBe(0);
  });

  it("CSV export and import round-trip", async () => {
    await call(app, "POST", "/suppressions", { address: "a@x.test", reason: 'said "stop", twice', expiresAt: "2027-01-01T00:00:00Z" });
    await call(app, "POST", "/suppressions", { address: "b@x.test", reason: "line one\nline two" });
    const exported = await csvCall("GET", "/suppressions/export");
    expect(exported.status).toBe(200);
    expect(exported.type).toMatch(/^text\/csv/);
    expect(exported.text.split("\r\n")[0]).toBe("address,reason,expires_at,source,bounce_class,created_at,created_by");
    expect(exported.text).toContain('a@x.test,"said ""stop"", twice",2027-01-01T00:00:00.000Z,manual,,');

    await tdb.storage.db.execute(sql`TRUNCATE suppressions`);
    const imported = await csvCall("POST", "/suppressions/import", exported.text);
    expect(imported.status).toBe(200);
    expect(imported.json()).toEqual({ imported: 2 });
    const list = items<{ address: string; reason: string; expiresAt: string | null; createdBy: string }>((await call(app, "GET", "/suppressions")).body);
    expect(list.map((i) => [i.address, i.reason, i.expiresAt, i.createdBy])).toEqual([
      ["a@x.test", 'said "stop", twice', "2027-01-01T00:00:00.000Z", "api:import"],
      ["b@x.test", "line one\nline two", null, "api:import"],
    ]);
  });

  it("a CSV with bad lines is a 400 listing every one, and nothing is imported", async () => {
    const csv = ["address,reason,expires_at", "good@x.test,fine,", "not-an-address,r,", "also@x.test,r,tomorrow", "good@x.test,dup,", "short@x.test", "ok2@x.test,,2027-01-01"].join("\n");
    const r = await csvCall("POST", "/suppressions/import", csv);
    expect(r.status).toBe(400);
    const body = r.json();
    expect(body.error).toBe("4 bad line(s) in the CSV; nothing was imported");
    expect(issuePaths(body)).toEqual(["line 3", "line 4", "line 5", "line 6"]);
    expect(JSON.stringify(body.issues)).toContain("address must be local-part@domain");
    expect(await rows()).toBe(0);

    expect((await csvCall("POST", "/suppressions/import", "email,why\nx@y.test,r\n")).status).toBe(400);
    expect((await csvCall("POST", "/suppressions/import", "")).status).toBe(400);
    expect((await csvCall("POST", "/suppressions/import", '"address\nx@y.test')).status).toBe(400);
    expect((await csvCall("POST", "/suppressions/import", "address\nx@y.test", "application/json")).status).toBe(415);
    expect(await rows()).toBe(0);
  });

  it("an import larger than the API's usual 64 KiB body limit is accepted", async () => {
    const lines = ["address,reason"];
    for (let i = 0; i < 3000; i++) lines.push(`user${i}@bulk.test,imported from the old system in one go`);
    const csv = lines.join("\r\n");
    expect(csv.length).toBeGreaterThan(64 * 1024);
    const r = await csvCall("POST", "/suppressions/import", csv);
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ imported: 3000 });
    expect((await call(app, "GET", "/suppressions?limit=1")).body).toMatchObject({ total: 3000 });
  });

  it("the automatic classes setting refuses an unknown class", async () => {
    const r = await call(app, "PUT", "/settings/suppression_auto_classes", { value: "bad_mailbox, spam" });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: expect.stringContaining("unknown bounce class spam") as string });
    expect((await call(app, "PUT", "/settings/suppression_auto_classes", { value: "bad_mailbox,mailbox_full" })).status).toBe(200);
    expect((await call(app, "GET", "/settings/suppression_auto_classes")).body).toMatchObject({ value: "bad_mailbox,mailbox_full" });
  });

  it("needs the token like every route", async () => {
    expect((await call(app, "GET", "/suppressions", undefined, null)).status).toBe(401);
    const res = await app.request("/api/v1/suppressions/import", { method: "POST", headers: { "content-type": "text/csv" }, body: "address\nx@y.test" });
    expect(res.status).toBe(401);
    expect(await rows()).toBe(0);
  });
});

describe("CSV reading", () => {
  it("quoted fields with commas, quotes and line breaks; CRLF and LF; blank lines skipped", () => {
    const { records } = parseCsv('a,b\r\n"x,1","say ""hi"""\n\n"multi\nline",z\n');
    expect(records).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["x,1", 'say "hi"'] },
      { line: 4, fields: ["multi\nline", "z"] },
    ]);
  });

  it("a BOM and upper-case header are fine; the reason defaults to 'imported'", () => {
    const r = suppressionsFromCsv("\uFEFFADDRESS\nX@Y.test\n");
    expect(r).toEqual({ ok: true, entries: [{ address: "X@Y.test", reason: "imported", expiresAt: null }] });
  });
});
