import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDomain } from "../../src/accounts/store.ts";
import { dkimGenerate, dkimList, dkimRemove, dkimSetActive } from "../../src/cli/commands/dkim.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { dkimRoutes } from "../../src/http/admin/routes/dkim.ts";
import { errorHandler } from "../../src/http/shared/errors.ts";
import { LoginThrottle } from "../../src/http/shared/login-throttle.ts";
import { type DkimKeyGenerator, nodeKeyGenerator } from "../../src/dkim/keys.ts";
import { DkimKeyring } from "../../src/dkim/keyring.ts";
import { loadSigningKeys } from "../../src/dkim/store.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { adminApp, call, items } from "../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
const logLines: string[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "example.com");
  ({ app } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb?.drop();
});

/** Every private key's base64 body in the table: none of it may appear in an answer. */
async function privateKeyBodies(): Promise<string[]> {
  const rows = await queryRows(tdb.storage.db, sql`SELECT private_key FROM dkim_keys`);
  return rows.map((r) => str(r.private_key).replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
}

async function expectNoPrivateKey(text: string): Promise<void> {
  expect(text).not.toMatch(/PRIVATE KEY/);
  const flat = text.replace(/\\n|\s/g, "");
  for (const body of await privateKeyBodies()) {
    expect(body.length).toBeGreaterThan(40);
    // Any 40-character stretch of it would be a leak.
    for (let i = 0; i + 40 <= body.length; i += 40) expect(flat).not.toContain(body.slice(i, i + 40));
  }
}

async function dkimCount(): Promise<number> {
  const [r] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM dkim_keys`);
  return Number(r.n);
}

describe("admin API /api/v1/dkim", () => {
  it("POST generates RSA-2048 and Ed25519 keys and answers the DNS record; list and show never carry the private key", async () => {
    const rsa = await call(app, "POST", "/dkim", { domain: "Example.COM", selector: "s2026", algorithm: "rsa" });
    expect(rsa.status).toBe(201);
    expect(rsa.body).toMatchObject({ domain: "example.com", selector: "s2026", algorithm: "rsa-sha256", active: true, dns: { name: "s2026._domainkey.example.com" } });
    const dnsValue = (rsa.body as { dns: { value: string; zoneLine: string } }).dns;
    expect(dnsValue.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{360,}$/);
    expect(dnsValue.zoneLine).toMatch(/^s2026\._domainkey\.example\.com TXT "v=DKIM1; k=rsa; p=/);
    const [row] = await queryRows(tdb.storage.db, sql`SELECT private_key FROM dkim_keys WHERE selector = 's2026'`);
    expect(str(row.private_key)).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const ed = await call(app, "POST", "/dkim", { domain: "example.com", selector: "ed", algorithm: "ed25519" });
    expect(ed.status).toBe(201);
    expect((ed.body as { dns: { value: string } }).dns.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);

    const list = await call(app, "GET", "/dkim");
    expect(items(list.body).map((k) => k.selector).sort()).toEqual(["ed", "s2026"]);
    const show = await call(app, "GET", "/dkim/example.com/s2026");
    expect(show.body).toMatchObject({ selector: "s2026", algorithm: "rsa-sha256" });
    for (const r of [rsa, ed, list, show]) await expectNoPrivateKey(JSON.stringify(r.body));
    expect(Object.keys(show.body as object).sort()).toEqual(["active", "algorithm", "createdAt", "dns", "domain", "selector"]);
  });

  it("bad input: unknown domain 404, bad algorithm and bad selector 400, taken selector 409; nothing stored, no key generated", async () => {
    const before = await dkimCount();
    let generated = 0;
    const counting: DkimKeyGenerator = async (a) => {
      generated++;
      return nodeKeyGenerator(a);
    };
    // The same routes with a counting key generator: a refused request must not cost a key.
    const counted = new Hono();
    counted.onError(errorHandler(pino({ level: "silent" })));
    counted.route("/dkim", dkimRoutes({ db: tdb.storage.db, clock: { now: () => new Date() }, logger: pino({ level: "silent" }), token: "t", throttle: new LoginThrottle({ now: () => new Date() }) }, counting));
    const cases: Array<[unknown, number, RegExp]> = [
      [{ domain: "nowhere.example" }, 404, /no such local domain "nowhere\.example"/],
      [{ domain: "example.com", algorithm: "dsa" }, 400, /bad algorithm "dsa"/],
      [{ domain: "example.com", selector: "bad_selector!" }, 400, /bad selector "bad_selector!"/],
      [{ domain: "example.com", selector: "-x" }, 400, /bad selector/],
      [{ domain: "example.com", selector: "s2026" }, 409, /already has a key with selector "s2026"/],
      [{ domain: "example.com", privateKey: "mine" }, 400, /invalid/],
      [{}, 400, /invalid domain/],
    ];
    for (const [body, status, error] of cases) {
      const r = await call(app, "POST", "/dkim", body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect((r.body as { error: string }).error).toMatch(error);
      const c = await counted.request("/dkim", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(c.status).toBe(status);
    }
    expect(generated).toBe(0);
    expect((await call(app, "POST", "/dkim", "not json")).status).toBe(400);
    expect((await call(app, "GET", "/dkim/example.com/nope")).status).toBe(404);
    expect((await call(app, "DELETE", "/dkim/example.com/nope")).status).toBe(404);
    expect((await call(app, "PUT", "/dkim/example.com/s2026", { active: "yes" })).status).toBe(400);
    expect(await dkimCount()).toBe(before);
  });

  it("PUT deactivates (the keyring stops signing with it), DELETE removes", async () => {
    const ring = new DkimKeyring({ load: () => loadSigningKeys(tdb.storage.db), now: () => 0 });
    expect((await ring.keysFor("example.com")).map((k) => k.selector).sort()).toEqual(["ed", "s2026"]);
    expect((await call(app, "PUT", "/dkim/example.com/ed", { active: false })).body).toMatchObject({ selector: "ed", active: false });
    await ring.refresh();
    expect((await ring.keysFor("example.com")).map((k) => k.selector)).toEqual(["s2026"]);
    expect((await call(app, "DELETE", "/dkim/example.com/ed")).body).toEqual({ removed: { domain: "example.com", selector: "ed" } });
    expect(items((await call(app, "GET", "/dkim?domain=example.com")).body).map((k) => k.selector)).toEqual(["s2026"]);
  });
});

describe("CLI dkim", () => {
  it("generate prints the TXT record to publish; list, activate, remove; no private key in any output or log line", async () => {
    const out: string[] = [];
    const print = (l: string) => out.push(l);
    const logger = pino({ level: "trace" }, { write: (s: string) => logLines.push(s) });
    await dkimGenerate(tdb.storage.db, "example.com", { selector: "cli1", algorithm: "ed25519" }, print);
    expect(out[0]).toMatch(/^DKIM key cli1 \(ed25519-sha256\) for example\.com, signing now; publish this DNS record:\ncli1\._domainkey\.example\.com TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="$/);
    await dkimGenerate(tdb.storage.db, "example.com", { selector: "cli2", inactive: true, json: true }, print);
    expect(JSON.parse(out[1])).toMatchObject({ selector: "cli2", algorithm: "rsa-sha256", active: false });
    await dkimList(tdb.storage.db, "example.com", false, print);
    await dkimList(tdb.storage.db, undefined, true, print);
    expect((JSON.parse(out[out.length - 1]) as Array<{ selector: string }>).map((k) => k.selector).sort()).toEqual(["cli1", "cli2", "s2026"]);
    await dkimSetActive(tdb.storage.db, "example.com", "cli2", true, false, print);
    await dkimRemove(tdb.storage.db, "example.com", "cli1", false, print);
    expect(out[out.length - 1]).toMatch(/DKIM key cli1 of example\.com removed/);
    await expect(dkimGenerate(tdb.storage.db, "nowhere.example", {}, print)).rejects.toThrow(/no such local domain/);
    // The API's log lines for the same operations.
    const { app: logged } = adminApp(tdb.storage.db);
    logged.route("/x", dkimRoutes({ db: tdb.storage.db, clock: { now: () => new Date() }, logger, token: "t", throttle: new LoginThrottle({ now: () => new Date() }) }));
    expect((await logged.request("/x", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ domain: "example.com", selector: "logged" }) })).status).toBe(201);
    expect(logLines.some((l) => l.includes("DKIM key generated"))).toBe(true);
    await expectNoPrivateKey(out.join("\n") + logLines.join("\n"));
  });
});
