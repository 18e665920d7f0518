import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { routeAdd, routeList, routeRemove } from "../../src/cli/commands/route.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { findRoute, parseHostList, parseHostPort, RouteError, setRoute } from "../../src/relay/routes-store.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { adminApp, call } from "../helpers/admin-app.ts";

describe("relay routes: store, CLI and /api/v1/routes", () => {
  let tdb: TestDatabase;
  const count = async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM routes`))[0].n);

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`TRUNCATE routes`);
  });

  it("parses host[:port] lists, IPv6 in brackets, and rejects bad input precisely", () => {
    expect(parseHostList("relay.lan, 10.0.0.1:2525,[2001:db8::1]:587")).toEqual([
      { host: "relay.lan", port: 25 },
      { host: "10.0.0.1", port: 2525 },
      { host: "2001:db8::1", port: 587 },
    ]);
    expect(parseHostPort("2001:db8::2")).toEqual({ host: "2001:db8::2", port: 25 });
    expect(() => parseHostPort("relay.lan:99999")).toThrow(/bad port in "relay.lan:99999"/);
    expect(() => parseHostPort("relay.lan:x")).toThrow(/bad port/);
    expect(() => parseHostPort("bad host")).toThrow(/bad relay host "bad host"/);
    expect(() => parseHostList(" , ")).toThrow(/at least one host/);
  });

  it("looks up the domain's own route first, then '*'", async () => {
    await setRoute(tdb.storage.db, { domain: "*", hosts: "smarthost.lan" });
    await setRoute(tdb.storage.db, { domain: "Partner.Example", hosts: "10.1.1.1:2525", requireTls: true, authUser: "u", authPass: "p" });
    expect(await findRoute(tdb.storage.db, "partner.example")).toMatchObject({ domain: "partner.example", hosts: [{ host: "10.1.1.1", port: 2525 }], requireTls: true, authUser: "u", authPass: "p" });
    expect(await findRoute(tdb.storage.db, "other.example")).toMatchObject({ domain: "*", hosts: [{ host: "smarthost.lan", port: 25 }] });
    await tdb.storage.db.execute(sql`DELETE FROM routes WHERE domain = '*'`);
    expect(await findRoute(tdb.storage.db, "other.example")).toBeNull();
  });

  it("bad input writes nothing", async () => {
    await expect(setRoute(tdb.storage.db, { domain: "not a domain", hosts: "a.lan" })).rejects.toThrow(RouteError);
    await expect(setRoute(tdb.storage.db, { domain: "ok.example", hosts: "a.lan:0" })).rejects.toThrow(/bad port/);
    await expect(setRoute(tdb.storage.db, { domain: "ok.example", hosts: "a.lan", authUser: "only-user" })).rejects.toThrow(/both a user and a password/);
    expect(await count()).toBe(0);
  });

  it("CLI: route add / list / remove, table and --json", async () => {
    const lines: string[] = [];
    const out = (l: string) => lines.push(l);
    await routeAdd(tdb.storage.db, "example.org", "mx1.lan:2525,mx2.lan", { requireTls: true }, out);
    expect(lines.pop()).toBe("route example.org → mx1.lan:2525,mx2.lan:25 (TLS encrypt)");
    await routeAdd(tdb.storage.db, "*", "smarthost.lan", { authUser: "relay", authPass: "pw", json: true }, out);
    expect(JSON.parse(lines.pop() ?? "")).toEqual({ domain: "*", hosts: "smarthost.lan:25", tls: "may", requireTls: false, authUser: "relay" });
    await routeAdd(tdb.storage.db, "verified.example", "mx.verified.example", { tls: "verify" }, out);
    expect(lines.pop()).toBe("route verified.example → mx.verified.example:25 (TLS verify)");
    await expect(routeAdd(tdb.storage.db, "bad.example", "mx.bad.example", { tls: "maybe" }, out)).rejects.toThrow('bad tls "maybe": one of none, may, encrypt, verify');
    await routeRemove(tdb.storage.db, "verified.example", false, out);
    await routeList(tdb.storage.db, true, out);
    const listed = JSON.parse(lines.pop() ?? "") as Array<Record<string, unknown>>;
    expect(listed.map((r) => [r.domain, r.hosts, r.tls, r.auth_user])).toEqual([
      ["*", "smarthost.lan:25", "may", "relay"],
      ["example.org", "mx1.lan:2525,mx2.lan:25", "encrypt", null],
    ]);
    await routeList(tdb.storage.db, false, out);
    expect(lines.pop()).toContain("mx1.lan:2525,mx2.lan:25");
    await routeRemove(tdb.storage.db, "EXAMPLE.org", false, out);
    expect(lines.pop()).toBe("route example.org removed");
    await expect(routeRemove(tdb.storage.db, "example.org", false, out)).rejects.toThrow(/no route for "example.org"/);
  });

  it("API: behind the admin bearer token; PUT, GET (no password), DELETE, precise 400/404", async () => {
    const { app } = adminApp(tdb.storage.db);
    expect((await call(app, "GET", "/routes", undefined, null)).status).toBe(401);
    const put = await call(app, "PUT", "/routes/partner.example", { hosts: "10.0.0.9:2525", requireTls: true, authUser: "u", authPass: "secret" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ domain: "partner.example", hosts: "10.0.0.9:2525", tls: "encrypt", requireTls: true, authUser: "u" });
    const verified = await call(app, "PUT", "/routes/verified.example", { hosts: "mx.verified.example", tls: "verify" });
    expect(verified).toMatchObject({ status: 200, body: { tls: "verify", requireTls: true } });
    expect(await call(app, "DELETE", "/routes/verified.example")).toMatchObject({ status: 200 });
    const star = await call(app, "PUT", "/routes/*", { hosts: "smarthost.lan" });
    expect(star.status).toBe(200);
    const list = await call(app, "GET", "/routes");
    expect(list.status).toBe(200);
    const items = (list.body as { items: Array<Record<string, unknown>> }).items;
    expect(items.map((i) => i.domain)).toEqual(["*", "partner.example"]);
    expect(JSON.stringify(list.body)).not.toContain("secret");

    expect(await call(app, "PUT", "/routes/x.example", { hosts: "bad host" })).toMatchObject({ status: 400, body: { error: 'bad relay host "bad host": a host name or IP address, optionally :port' } });
    expect(await call(app, "PUT", "/routes/x.example", {})).toMatchObject({ status: 400, body: { error: '"hosts" is required' } });
    expect(await call(app, "PUT", "/routes/x.example", { hosts: "a.lan", requireTls: "yes" })).toMatchObject({ status: 400 });
    expect(await call(app, "PUT", "/routes/x.example", { hosts: "a.lan", tls: "strict" })).toMatchObject({ status: 400, body: { error: 'bad tls "strict": one of none, may, encrypt, verify' } });
    expect(await call(app, "PUT", "/routes/x.example", { hosts: "a.lan", tls: 1 })).toMatchObject({ status: 400, body: { error: '"tls" must be a string' } });
    expect(await call(app, "PUT", "/routes/x.example", { hosts: "a.lan", tls: "none", requireTls: true })).toMatchObject({ status: 400, body: { error: 'tls "none" contradicts requireTls: true' } });
    expect(await call(app, "PUT", "/routes/x.example", "{not json")).toMatchObject({ status: 400 });
    expect(await count()).toBe(2);

    expect(await call(app, "DELETE", "/routes/partner.example")).toMatchObject({ status: 200, body: { removed: "partner.example" } });
    expect(await call(app, "DELETE", "/routes/partner.example")).toMatchObject({ status: 404, body: { error: 'no route for "partner.example"' } });
    expect(await count()).toBe(1);
  });
});
