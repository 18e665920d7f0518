import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerMember } from "../../../src/cluster/members.ts";
import { loadSettings } from "../../../src/cluster/settings.ts";
import { num, queryRows, str } from "../../../src/db/rows.ts";
import { mailboxFolders, mailboxMessages } from "../../../src/db/schema/index.ts";
import { resolveAdminToken } from "../../../src/http/admin/token.ts";
import { silentLogger } from "../../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, call, issuePaths, items, TOKEN } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];

const count = async (table: string) => num((await queryRows(tdb.storage.db, sql.raw(`SELECT count(*)::int AS n FROM ${table}`)))[0].n);

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, clock } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});

describe("admin API authentication", () => {
  it("rejects a missing token with 401 and a JSON error", async () => {
    const r = await call(app, "GET", "/domains", undefined, null);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: "missing bearer token" });
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("rejects a wrong token and other schemes with 401", async () => {
    expect((await call(app, "GET", "/domains", undefined, "wrong-token")).status).toBe(401);
    const basic = await app.request("/api/v1/domains", { headers: { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` } });
    expect(basic.status).toBe(401);
    // A 401 also before any validation or write.
    const r = await call(app, "POST", "/domains", { name: "sneaky.test" }, "wrong");
    expect(r.status).toBe(401);
    expect(await count("domains")).toBe(0);
  });

  it("generates one cluster-wide token when none is configured, and keeps it", async () => {
    const first = await resolveAdminToken(tdb.storage.db, null, silentLogger);
    expect(first.source).toBe("generated");
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    const second = await resolveAdminToken(tdb.storage.db, "", silentLogger);
    expect(second).toEqual({ token: first.token, source: "stored" });
    expect(await resolveAdminToken(tdb.storage.db, "from-the-environment-123", silentLogger)).toEqual({ token: "from-the-environment-123", source: "env" });
    // Not a cluster setting: invisible to GET /settings, not writable through PUT.
    const s = await call(app, "GET", "/settings");
    expect(JSON.stringify(s.body)).not.toContain(first.token);
    expect((await call(app, "PUT", "/settings/admin_token", { value: "mine" })).status).toBe(404);
  });
});

describe("domains", () => {
  it("adds, lists and removes", async () => {
    const added = await call(app, "POST", "/domains", { name: "Example.ORG" });
    expect(added).toMatchObject({ status: 201, body: { name: "example.org" } });
    expect(items(( await call(app, "GET", "/domains")).body).map((d) => d.name)).toEqual(["example.org"]);
    expect((await call(app, "POST", "/domains", { name: "example.org" })).status).toBe(409);
    expect((await call(app, "DELETE", "/domains/example.org")).status).toBe(200);
    expect((await call(app, "DELETE", "/domains/example.org")).status).toBe(404);
  });

  it("refuses bad payloads with 400 and the field path, writing nothing", async () => {
    const bad = await call(app, "POST", "/domains", { name: "not a domain" });
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.body)).toEqual(["name"]);
    expect(issuePaths((await call(app, "POST", "/domains", {})).body)).toEqual(["name"]);
    expect((await call(app, "POST", "/domains", { name: "ok.test", extra: 1 })).status).toBe(400);
    const malformed = await call(app, "POST", "/domains", "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.body).toHaveProperty("error");
    const notJson = await app.request("/api/v1/domains", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" }, body: '{"name":"ok.test"}' });
    expect(notJson.status).toBe(415);
    const huge = await call(app, "POST", "/domains", { name: "ok.test", pad: "x".repeat(100_000) });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ error: expect.stringContaining("larger than") as string });
    expect(await count("domains")).toBe(0);
  });
});

describe("accounts and aliases", () => {
  beforeAll(async () => {
    await call(app, "POST", "/domains", { name: "mail.test" });
  });

  it("adds an account with password, quota and home member, and its INBOX", async () => {
    const r = await call(app, "POST", "/accounts", { address: "Alice@Mail.test", password: "s3cret!", quota: 1_000_000, home: "backend-1" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ address: "alice@mail.test", quota: 1_000_000, home: "backend-1", password: true });
    const [row] = await queryRows(tdb.storage.db, sql`SELECT password_hash, quota_bytes, home_member FROM accounts WHERE address = 'alice@mail.test'`);
    expect(str(row.password_hash)).not.toContain("s3cret!");
    expect(num(row.quota_bytes)).toBe(1_000_000);
    expect(row.home_member).toBe("backend-1");
    const list = items((await call(app, "GET", "/accounts")).body);
    expect(list.map((a) => a.address)).toEqual(["alice@mail.test"]);
    expect(await count("mailbox_folders")).toBe(1);
    expect((await call(app, "POST", "/accounts", { address: "alice@mail.test" })).status).toBe(409);
  });

  it("refuses bad accounts with the offending field and leaves nothing behind", async () => {
    const before = await count("accounts");
    const quota = await call(app, "POST", "/accounts", { address: "bob@mail.test", quota: -5 });
    expect(quota.status).toBe(400);
    expect(issuePaths(quota.body)).toEqual(["quota"]);
    expect(issuePaths((await call(app, "POST", "/accounts", { address: "bob@", password: "x" })).body)).toEqual(["address"]);
    expect(issuePaths((await call(app, "POST", "/accounts", { address: "bob@mail.test", password: 42 })).body)).toEqual(["password"]);
    const unknownDomain = await call(app, "POST", "/accounts", { address: "bob@elsewhere.test" });
    expect(unknownDomain.status).toBe(404);
    expect(unknownDomain.body).toMatchObject({ error: expect.stringContaining("not a local domain") as string });
    expect(await count("accounts")).toBe(before);
  });

  it("aliases: targets validated one by one", async () => {
    const bad = await call(app, "POST", "/aliases", { address: "team@mail.test", targets: ["alice@mail.test", "nope"] });
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.body)).toEqual(["targets.1"]);
    expect(issuePaths((await call(app, "POST", "/aliases", { address: "team@mail.test", targets: [] })).body)).toEqual(["targets"]);
    expect(await count("aliases")).toBe(0);
    const ok = await call(app, "POST", "/aliases", { address: "team@mail.test", targets: ["alice@mail.test", "ext@remote.test"] });
    expect(ok.status).toBe(201);
    expect(items((await call(app, "GET", "/aliases")).body)).toMatchObject([{ address: "team@mail.test", targets: ["alice@mail.test", "ext@remote.test"] }]);
    expect((await call(app, "POST", "/aliases", { address: "alice@mail.test", targets: ["x@remote.test"] })).status).toBe(409);
    expect((await call(app, "DELETE", "/aliases/team@mail.test")).status).toBe(200);
    expect((await call(app, "DELETE", "/aliases/team@mail.test")).status).toBe(404);
  });

  it("lists stored messages and serves their raw content", async () => {
    const [inbox] = await tdb.storage.db.select().from(mailboxFolders);
    const raw = "From: Carol <carol@remote.test>\r\nSubject: Lunch\r\n\r\nNoon?\r\n";
    const [stored] = await tdb.storage.db
      .insert(mailboxMessages)
      .values({ account: "alice@mail.test", folderId: inbox.id, uid: 1, queueMessageId: 7, sizeBytes: raw.length, sender: "carol@remote.test", subject: "Lunch", internalDate: clock.now(), content: new TextEncoder().encode(raw), flags: ["\\Seen"] })
      .returning({ id: mailboxMessages.id });
    const list = await call(app, "GET", "/accounts/alice@mail.test/messages");
    expect(list.status).toBe(200);
    expect(items(list.body)).toEqual([
      { id: stored.id, folder: "INBOX", uid: 1, sizeBytes: raw.length, from: "carol@remote.test", subject: "Lunch", date: clock.now().toISOString(), flags: ["\\Seen"] },
    ]);
    const res = await app.request(`/api/v1/messages/${stored.id}/raw`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("message/rfc822");
    expect(await res.text()).toBe(raw);
    expect((await call(app, "GET", "/messages/999999/raw")).status).toBe(404);
    expect(issuePaths((await call(app, "GET", "/messages/abc/raw")).body)).toEqual(["id"]);
    expect((await call(app, "GET", "/accounts/nobody@mail.test/messages")).status).toBe(404);
  });

  it("removes an account", async () => {
    expect((await call(app, "DELETE", "/accounts/alice@mail.test")).status).toBe(200);
    expect((await call(app, "DELETE", "/accounts/alice@mail.test")).status).toBe(404);
    expect(await count("mailbox_messages")).toBe(0);
  });
});

describe("members and settings", () => {
  it("lists members with liveness, and the live ones", async () => {
    const info = { roles: ["frontend" as const], smtpEndpoint: null, httpUrl: null, submitMode: "locally" as const, hostname: null, pid: null, version: null };
    await registerMember(tdb.storage.db, { ...info, name: "fresh" }, clock.now());
    await registerMember(tdb.storage.db, { ...info, name: "stale" }, new Date(clock.now().getTime() - 3_600_000));
    const all = items((await call(app, "GET", "/members")).body);
    expect(all.map((m) => [m.name, m.alive])).toEqual([["fresh", true], ["stale", false]]);
    expect(items((await call(app, "GET", "/members/live")).body).map((m) => m.name)).toEqual(["fresh"]);
  });

  it("reads and changes settings; a wrong type is a 400 and changes nothing", async () => {
    const all = await call(app, "GET", "/settings");
    expect(all.body).toMatchObject({ settings: { queue_poll_interval_ms: 1000 }, defaults: { queue_poll_interval_ms: 1000 } });
    expect((await call(app, "PUT", "/settings/queue_poll_interval_ms", { value: 250 })).status).toBe(200);
    expect((await loadSettings(tdb.storage.db)).queue_poll_interval_ms).toBe(250);
    const wrongType = await call(app, "PUT", "/settings/queue_poll_interval_ms", { value: "fast" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toEqual({ error: 'setting "queue_poll_interval_ms" takes a number' });
    // Every setting goes through its check in the table, with the check's own message.
    expect((await call(app, "PUT", "/settings/queue_poll_interval_ms", { value: -5 })).body).toEqual({ error: 'setting "queue_poll_interval_ms" must not be negative' });
    expect((await call(app, "PUT", "/settings/relay_require_tls", { value: "yes" })).body).toEqual({ error: 'setting "relay_require_tls" takes a boolean' });
    expect((await call(app, "PUT", "/settings/dns_servers", { value: 53 })).body).toEqual({ error: 'setting "dns_servers" takes a string' });
    const badClass = await call(app, "PUT", "/settings/suppression_auto_classes", { value: "bad_mailbox,spam" });
    expect(badClass.status).toBe(400);
    expect(badClass.body).toEqual({ error: expect.stringMatching(/^setting "suppression_auto_classes" has an unknown bounce class spam; known: .*bad_mailbox/) as string });
    expect(issuePaths((await call(app, "PUT", "/settings/queue_poll_interval_ms", {})).body)).toEqual(["value"]);
    expect((await call(app, "PUT", "/settings/no_such_key", { value: 1 })).status).toBe(404);
    expect((await loadSettings(tdb.storage.db)).queue_poll_interval_ms).toBe(250);
    expect((await call(app, "GET", "/settings/queue_poll_interval_ms")).body).toEqual({ key: "queue_poll_interval_ms", value: 250, default: 1000 });
    expect((await call(app, "DELETE", "/settings/queue_poll_interval_ms")).status).toBe(200);
    expect((await loadSettings(tdb.storage.db)).queue_poll_interval_ms).toBe(1000);
  });
});

describe("unexpected failures", () => {
  it("map to a 500 with a JSON error and no internals", async () => {
    const broken = tdb.open(1);
    await broken.close();
    const { app: brokenApp } = adminApp(broken.db);
    const r = await call(brokenApp, "GET", "/domains");
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: "internal error" });
  });
});
