import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { num, queryRows } from "../../../src/db/rows.ts";
import { getSuppression } from "../../../src/suppression/store.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, browse } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];

const count = async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM suppressions`))[0].n);

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`TRUNCATE suppressions`);
});

describe("WebAdmin suppression page", () => {
  it("adds with an expiry, lists and searches (escaped), removes only after confirmation", async () => {
    const add = await browse(app, "/admin/suppressions", { body: new URLSearchParams({ address: "Mallory@Example.org", reason: "<b>complaint</b>", days: "30" }) });
    expect(add.status).toBe(303);
    expect(decodeURIComponent(add.headers.get("location") ?? "")).toMatch(/suppressed mallory@example\.org until 2026-07-01 12:00:00Z/);
    expect((await getSuppression(tdb.storage.db, "mallory@example.org"))?.createdBy).toBe("webadmin");

    const list = await (await browse(app, "/admin/suppressions?q=mallory")).text();
    expect(list).toContain('href="/admin/suppressions" class="here">Suppressions</a>');
    expect(list).toContain("mallory@example.org");
    expect(list).toContain("&lt;b&gt;complaint&lt;/b&gt;");
    expect(list).not.toContain("<b>complaint</b>");
    expect(await (await browse(app, "/admin/suppressions?q=nobody")).text()).toContain("No suppressed addresses.");

    const ask = await browse(app, "/admin/suppressions/mallory%40example.org/remove", { body: new URLSearchParams({}) });
    expect(ask.status).toBe(200);
    expect(await ask.text()).toContain("Remove mallory@example.org from the suppression list?");
    expect(await count()).toBe(1);
    const done = await browse(app, "/admin/suppressions/mallory%40example.org/remove", { body: new URLSearchParams({ confirm: "yes" }) });
    expect(done.status).toBe(303);
    expect(await count()).toBe(0);
  });

  it("a bad form is refused with the field named", async () => {
    const r = await browse(app, "/admin/suppressions", { body: new URLSearchParams({ address: "no-at-sign", reason: "r" }) });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("invalid address: address must be local-part@domain");
    expect(await count()).toBe(0);
  });

  it("imports an uploaded CSV, all or nothing, and exports it", async () => {
    const bad = new FormData();
    bad.append("csv", new File(["address,reason\nok@x.test,r\nbad,r\n"], "list.csv", { type: "text/csv" }));
    const refused = await browse(app, "/admin/suppressions/import", { body: bad });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("1 bad line(s), nothing was imported — line 3: address must be local-part@domain");
    expect(await count()).toBe(0);

    const good = new FormData();
    good.append("csv", new File(["address,reason\nok@x.test,r\nok2@x.test,\n"], "list.csv", { type: "text/csv" }));
    const imported = await browse(app, "/admin/suppressions/import", { body: good });
    expect(imported.status).toBe(303);
    expect(decodeURIComponent(imported.headers.get("location") ?? "")).toContain("imported 2 address(es)");
    const csv = await (await browse(app, "/admin/suppressions/export")).text();
    expect(csv).toContain("ok2@x.test,imported,,manual,,");
    expect(csv).toContain("ok@x.test,r,,manual,,");
  });
});
