import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { num, queryRows } from "../../../src/db/rows.ts";
import { findRoute } from "../../../src/relay/routes-store.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, browse } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`TRUNCATE routes`);
});

describe("WebAdmin routes page: TLS level", () => {
  it("offers the four levels, stores the chosen one and lists it", async () => {
    const page = await (await browse(app, "/admin/routes")).text();
    for (const level of ["none", "may", "encrypt", "verify"]) expect(page).toContain(`<option value="${level}"`);
    const add = await browse(app, "/admin/routes", { body: new URLSearchParams({ domain: "partner.test", hosts: "relay.partner.test:2525", tls: "verify" }) });
    expect(add.status).toBe(303);
    expect((await findRoute(tdb.storage.db, "partner.test"))?.tls).toBe("verify");
    expect(await (await browse(app, "/admin/routes")).text()).toMatch(/<td>partner\.test<\/td><td>relay\.partner\.test:2525<\/td><td>verify<\/td>/);
  });

  it("a bad level is refused and nothing is written", async () => {
    const r = await browse(app, "/admin/routes", { body: new URLSearchParams({ domain: "partner.test", hosts: "relay.partner.test", tls: "sometimes" }) });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("bad tls &quot;sometimes&quot;: one of none, may, encrypt, verify");
    expect(num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM routes`))[0].n)).toBe(0);
  });
});
