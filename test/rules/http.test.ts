import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import type { Storage } from "../../src/db/storage.ts";
import { adminApp, call } from "../helpers/admin-app.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";

const folderRules = { rules: [{ conditions: [{ field: "subject", op: "contains", value: "x" }], actions: [{ type: "folder", folder: "X" }] }] };

describe("rules over the admin API (PGlite)", () => {
  let storage: Storage;
  let app: Hono;

  beforeAll(async () => {
    storage = await createPgliteDatabase();
    await addDomain(storage.db, "example.com");
    await addAccount(storage.db, { address: "bob@example.com" });
    app = adminApp(storage.db).app;
  });
  afterAll(async () => {
    await storage.close();
  });

  it("needs the bearer token", async () => {
    expect((await call(app, "GET", "/accounts/bob@example.com/rules", undefined, null)).status).toBe(401);
    expect((await call(app, "PUT", "/rules/cluster", { rules: [] }, "wrong")).status).toBe(401);
  });

  it("account rules: empty by default, PUT replaces, GET reads back", async () => {
    expect(await call(app, "GET", "/accounts/bob@example.com/rules")).toMatchObject({ status: 200, body: { rules: [] } });
    expect(await call(app, "PUT", "/accounts/Bob@Example.com/rules", folderRules)).toMatchObject({ status: 200, body: folderRules });
    expect(await call(app, "GET", "/accounts/bob@example.com/rules")).toMatchObject({ status: 200, body: folderRules });
  });

  it("an invalid set is a 400 with the path of the first error, and the old set stays", async () => {
    const bad = { rules: [folderRules.rules[0], { actions: [{ type: "vacation", text: "away", days: 1000 }] }] };
    const res = await call(app, "PUT", "/accounts/bob@example.com/rules", bad);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: "invalid rule set: rules[1].actions[0].days: must be between 1 and 365",
      issues: [{ path: "rules[1].actions[0].days", message: "must be between 1 and 365" }],
    });
    expect((await call(app, "GET", "/accounts/bob@example.com/rules")).body).toEqual(folderRules);
    const garbage = await call(app, "PUT", "/accounts/bob@example.com/rules", "{not json");
    expect(garbage.status).toBe(400);
    expect((await call(app, "GET", "/accounts/bob@example.com/rules")).body).toEqual(folderRules);
  });

  it("unknown account or domain: 404", async () => {
    expect((await call(app, "GET", "/accounts/nobody@example.com/rules")).status).toBe(404);
    expect((await call(app, "PUT", "/domains/example.net/rules", { rules: [] })).status).toBe(404);
  });

  it("domain rules", async () => {
    expect((await call(app, "PUT", "/domains/example.com/rules", folderRules)).status).toBe(200);
    expect((await call(app, "GET", "/domains/EXAMPLE.com/rules")).body).toEqual(folderRules);
  });

  it("cluster-wide and member (server-wide) submission rules, validated for submission", async () => {
    const header = { rules: [{ actions: [{ type: "add_header", name: "X-Scanned", value: "yes" }] }] };
    expect(await call(app, "GET", "/rules/cluster")).toMatchObject({ status: 200, body: { rules: [] } });
    expect((await call(app, "PUT", "/rules/cluster", header)).status).toBe(200);
    expect((await call(app, "GET", "/rules/cluster")).body).toEqual(header);
    const refused = await call(app, "PUT", "/rules/members/fe1", folderRules);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ issues: [{ path: "rules[0].actions[0].type" }] });
    expect((await call(app, "PUT", "/rules/members/fe1", header)).status).toBe(200);
    expect((await call(app, "GET", "/rules/members/fe1")).body).toEqual(header);
    expect((await call(app, "GET", "/rules/members/fe2")).body).toEqual({ rules: [] });
  });
});
