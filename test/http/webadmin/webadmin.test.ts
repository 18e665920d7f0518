import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerMember } from "../../../src/cluster/members.ts";
import { num, queryRows, str } from "../../../src/db/rows.ts";
import { attempts, mailboxFolders, mailboxMessages } from "../../../src/db/schema/index.ts";
import { submitMessage } from "../../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, browse as request, type BrowseInit, TOKEN } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];
let cookie = "";

function form(fields: Record<string, string>): URLSearchParams {
  return new URLSearchParams(fields);
}

/** A browser-like request: same origin, the session cookie once logged in (never the bearer token). */
function browse(path: string, init: Omit<BrowseInit, "token" | "cookie"> & { cookie?: string | null } = {}) {
  return request(app, path, { ...init, token: null, cookie: (init.cookie === undefined ? cookie : init.cookie) ?? undefined });
}

const recipientState = async (address: string) => str((await queryRows(tdb.storage.db, sql`SELECT state FROM recipients WHERE address = ${address}`))[0].state);

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, clock } = adminApp(tdb.storage.db));
  await registerMember(tdb.storage.db, { name: "front-1", roles: ["frontend"], smtpEndpoint: "127.0.0.1:2525", httpUrl: null, submitMode: "locally", hostname: null, pid: 1, version: null }, clock.now());
  await submitMessage(tdb.storage.db, {
    envelope: { sender: "<script>alert(1)</script>@evil.test", recipients: [{ address: "rcpt@far.test" }] },
    content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
    submittedBy: "front-1",
    processor: null,
    now: new Date(clock.now().getTime() - 3 * 3600_000),
  });
});
afterAll(async () => {
  await tdb.drop();
});

describe("WebAdmin login", () => {
  it("sends strangers to the login form and refuses their posts", async () => {
    const res = await browse("/admin", { cookie: null });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/login");
    expect((await browse("/admin/login", { cookie: null })).status).toBe(200);
    const post = await browse("/admin/queue/domain/far.test/hold", { method: "POST", body: form({}), cookie: null });
    expect(post.status).toBe(401);
    expect(await recipientState("rcpt@far.test")).toBe("queued");
    expect((await browse("/admin", { cookie: "mailcluster_admin=forged" })).status).toBe(303);
  });

  it("a wrong token gets 401, the right one a session cookie without the token in it", async () => {
    expect((await browse("/admin/login", { body: form({ token: "nope" }), cookie: null })).status).toBe(401);
    const ok = await browse("/admin/login", { body: form({ token: TOKEN }), cookie: null });
    expect(ok.status).toBe(303);
    const set = ok.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).not.toContain(TOKEN);
    cookie = set.split(";")[0];
  });
});

describe("WebAdmin pages and actions", () => {
  it("overview shows members and the queue per domain with the oldest age, escaped", async () => {
    const res = await browse("/admin");
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain("front-1");
    expect(page).toContain("far.test");
    expect(page).toContain("3h");
    const queue = await (await browse("/admin/queue?domain=far.test")).text();
    expect(queue).toContain("rcpt@far.test");
    expect(queue).not.toContain("<script>alert(1)");
    expect(queue).toContain("&lt;script&gt;");
  });

  it("overview: the last hour's outcomes, top deferral reasons, time in queue, per-member throughput; auto-refresh", async () => {
    const [r] = await queryRows(tdb.storage.db, sql`SELECT id, message_id, queued_at FROM recipients WHERE address = 'rcpt@far.test'`);
    const at = (minutesAgo: number) => new Date(clock.now().getTime() - minutesAgo * 60_000);
    const row = (minutesAgo: number, outcome: string, member: string, code: number, text: string) => ({
      messageId: num(r.message_id), recipientId: num(r.id), address: "rcpt@far.test", member, outcome, replyCode: code,
      enhancedStatus: code === 250 ? "2.0.0" : "4.4.1", replyText: text, remoteHost: null, startedAt: at(minutesAgo), durationMs: 100,
    });
    await tdb.storage.db.insert(attempts).values([
      row(30, "deferred", "front-1", 421, "mx.far.test: connection refused"),
      row(20, "deferred", "front-1", 421, "mx.far.test: connection refused"),
      row(10, "delivered", "front-1", 250, "ok"),
      row(90, "deferred", "front-1", 451, "too old to count"),
    ]);
    const res = await browse("/admin");
    const text = await res.text();
    expect(text).toContain('<meta http-equiv="refresh" content="15">');
    expect(text).toMatch(/deferred <b>2<\/b>/);
    expect(text).toMatch(/delivered <b>1<\/b>/);
    expect(text).toContain("<td>2</td><td>421 4.4.1 mx.far.test: connection refused</td>");
    expect(text).not.toContain("too old to count");
    // Submitted 3 h ago, delivered 10 min ago: 2 h 50 min in the queue.
    expect(text).toMatch(/p50 <b>170 min<\/b>/);
    expect(text).toContain("<td>front-1</td><td>1</td>");
    expect(text).toContain("<svg");
    expect(await (await browse("/admin?refresh=off")).text()).not.toContain('http-equiv="refresh"');
    await tdb.storage.db.delete(attempts);
  });

  it("auto-refresh is opt-in on the pages with forms, and the toggle keeps the page's filters", async () => {
    for (const path of ["/admin/members", "/admin/queue?state=held", "/admin/log?recipient=far"]) {
      const still = await (await browse(path)).text();
      expect(still).not.toContain('http-equiv="refresh"');
      const on = /<a href="([^"]+)" id="refresh-toggle"/.exec(still)?.[1].replace(/&amp;/g, "&") ?? "";
      expect(on).toContain("refresh=on");
      const live = await (await browse(on)).text();
      expect(live).toContain('<meta http-equiv="refresh" content="15">');
      const off = /<a href="([^"]+)" id="refresh-toggle"/.exec(live)?.[1].replace(/&amp;/g, "&") ?? "";
      expect(off).toContain("refresh=off");
      const query = path.split("?")[1];
      if (query) expect(off).toContain(query);
    }
  });

  it("queue buttons act on the queue; cross-site posts are refused", async () => {
    const [{ id }] = await queryRows(tdb.storage.db, sql`SELECT message_id AS id FROM recipients WHERE address = 'rcpt@far.test'`);
    const forged = await browse(`/admin/queue/${num(id)}/hold`, { body: form({}), origin: "http://evil.example" });
    expect(forged.status).toBe(403);
    expect(await recipientState("rcpt@far.test")).toBe("queued");

    const hold = await browse(`/admin/queue/${num(id)}/hold?back=${encodeURIComponent("/admin/queue?domain=far.test")}`, { body: form({}) });
    expect(hold.status).toBe(303);
    expect(hold.headers.get("location")).toMatch(/^\/admin\/queue\?domain=far\.test&msg=hold/);
    expect(await recipientState("rcpt@far.test")).toBe("held");
    expect((await browse("/admin/queue/domain/far.test/release", { body: form({}) })).status).toBe(303);
    expect(await recipientState("rcpt@far.test")).toBe("queued");
    // An outside redirect target is ignored.
    const away = await browse(`/admin/queue/${num(id)}/retry?back=${encodeURIComponent("https://evil.example/")}`, { body: form({}) });
    expect(away.headers.get("location")).toMatch(/^\/admin\/queue\?msg=/);
    expect((await browse(`/admin/queue/${num(id)}/explode`, { body: form({}) })).status).toBe(404);
    // Bounce asks first: the first post only shows what would happen.
    const ask = await browse("/admin/queue/domain/far.test/bounce", { body: form({}) });
    expect(ask.status).toBe(200);
    const question = await ask.text();
    expect(question).toContain("sender gets a bounce");
    expect(question).toContain('name="confirm" value="yes"');
    expect(await recipientState("rcpt@far.test")).toBe("queued");
    expect((await browse("/admin/queue/domain/far.test/bounce", { body: form({ confirm: "yes" }) })).status).toBe(303);
    expect(await recipientState("rcpt@far.test")).toBe("failed");

    const detail = await browse(`/admin/queue/${num(id)}`);
    expect(detail.status).toBe(200);
    const text = await detail.text();
    expect(text).toContain("bounced by administrator");
    expect(text).toContain("front-1");
    expect((await browse("/admin/queue/999999")).status).toBe(404);
  });

  it("domains and accounts: add, list, remove; a bad form is a 400 page and writes nothing", async () => {
    expect((await browse("/admin/domains", { body: form({ name: "web.test" }) })).status).toBe(303);
    expect(await (await browse("/admin/domains")).text()).toContain("web.test");
    const badDomain = await browse("/admin/domains", { body: form({ name: "bad domain" }) });
    expect(badDomain.status).toBe(400);

    const bad = await browse("/admin/accounts", { body: form({ address: "u@web.test", quota: "lots" }) });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("quota");
    expect(num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM accounts`))[0].n)).toBe(0);

    expect((await browse("/admin/accounts", { body: form({ address: "u@web.test", password: "pw", quota: "5000", home: "" }) })).status).toBe(303);
    const list = await (await browse("/admin/accounts")).text();
    expect(list).toContain("u@web.test");
    expect(list).toContain("5000");
    const dup = await browse("/admin/accounts", { body: form({ address: "u@web.test" }) });
    expect(dup.status).toBe(409);

    const [inbox] = await tdb.storage.db.select().from(mailboxFolders).where(eq(mailboxFolders.account, "u@web.test"));
    const raw = "Subject: <b>hi</b>\r\n\r\n<script>x</script>\r\n";
    const [stored] = await tdb.storage.db
      .insert(mailboxMessages)
      .values({ account: "u@web.test", folderId: inbox.id, uid: 1, sizeBytes: raw.length, sender: "x@y.test", subject: "<b>hi</b>", internalDate: clock.now(), content: new TextEncoder().encode(raw) })
      .returning({ id: mailboxMessages.id });
    const msgs = await (await browse(`/admin/accounts/${encodeURIComponent("u@web.test")}/messages`)).text();
    expect(msgs).toContain("&lt;b&gt;hi&lt;/b&gt;");
    expect(msgs).toContain(`/admin/messages/${stored.id}/raw`);
    const rawRes = await browse(`/admin/messages/${stored.id}/raw`);
    expect(rawRes.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(rawRes.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await rawRes.text()).toBe(raw);
    expect((await browse(`/admin/accounts/${encodeURIComponent("u@web.test")}/remove`, { body: form({ confirm: "yes" }) })).status).toBe(303);
    expect((await browse("/admin/accounts", { body: form({ address: "v@web.test" }) })).status).toBe(303);
    // Removing a domain deletes its accounts and mail: the first post only asks, and says so.
    const ask = await browse("/admin/domains/web.test/remove", { body: form({}) });
    expect(ask.status).toBe(200);
    expect(await ask.text()).toMatch(/Its 1 account\(s\), their aliases and ALL their stored mail are deleted/);
    expect(await (await browse("/admin/domains")).text()).toContain("web.test");
    expect((await browse("/admin/domains/web.test/remove", { body: form({ confirm: "yes" }) })).status).toBe(303);
    expect(await (await browse("/admin/domains")).text()).not.toContain("web.test");
  });

  it("rules: the JSON editor shows the validator's error inline and keeps the stored set", async () => {
    expect((await browse("/admin/domains", { body: form({ name: "rules.test" }) })).status).toBe(303);
    const open = await (await browse("/admin/rules?set=domain:rules.test")).text();
    expect(open).toContain("domain rules: at delivery");
    expect(open).toContain("&quot;rules&quot;: []");
    const notJson = await browse("/admin/rules", { body: form({ set: "domain:rules.test", rules: "{rules: [" }) });
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toContain("not JSON");
    const bad = await browse("/admin/rules", { body: form({ set: "domain:rules.test", rules: JSON.stringify({ rules: [{ actions: [{ type: "explode" }] }] }) }) });
    expect(bad.status).toBe(400);
    const badText = await bad.text();
    expect(badText).toContain('id="rules-error">invalid at rules[0].actions[0].type: must be one of: folder,');
    // What was typed stays in the editor (escaped), the stored set is untouched.
    expect(badText).toContain("&quot;explode&quot;");
    expect(await (await browse("/admin/rules?set=domain:rules.test")).text()).not.toContain("explode");
    const good = { rules: [{ name: "lists", conditions: [{ field: "subject", op: "contains", value: "[list]" }], actions: [{ type: "folder", folder: "Lists" }] }] };
    const saved = await browse("/admin/rules", { body: form({ set: "domain:rules.test", rules: JSON.stringify(good) }) });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toContain("saved%201%20rule(s)");
    expect(await (await browse("/admin/rules?set=domain:rules.test")).text()).toContain("Lists");
    expect((await browse("/admin/rules?set=nonsense")).status).toBe(400);
    expect((await browse("/admin/rules?set=domain:nowhere.test")).status).toBe(404);
  });

  it("delivery log: attempts searched by recipient, sender, queue id, outcome, reply and time", async () => {
    const [r] = await queryRows(tdb.storage.db, sql`SELECT id, message_id FROM recipients WHERE address = 'rcpt@far.test'`);
    const at = (minutesAgo: number) => new Date(clock.now().getTime() - minutesAgo * 60_000);
    const base = { messageId: num(r.message_id), recipientId: num(r.id), member: "front-1", remoteHost: "mx.far.test", durationMs: 5 };
    await tdb.storage.db.delete(attempts); // the bounce above logged one
    await tdb.storage.db.insert(attempts).values([
      { ...base, address: "rcpt@far.test", outcome: "deferred", replyCode: 421, enhancedStatus: "4.4.2", replyText: "timeout at greeting", startedAt: at(50) },
      { ...base, address: "rcpt@far.test", outcome: "failed", replyCode: 550, enhancedStatus: "5.1.1", replyText: "no such user", startedAt: at(5) },
      { ...base, messageId: 424242, address: "other@else.test", outcome: "delivered", replyCode: 250, enhancedStatus: "2.0.0", replyText: "ok", startedAt: at(1) },
    ]);
    const rowsOf = async (q: string) => ((await (await browse(`/admin/log?${q}`)).text()).match(/<tr><td>20/g) ?? []).length;
    expect(await rowsOf("")).toBe(3);
    expect(await rowsOf("recipient=FAR.test")).toBe(2);
    expect(await rowsOf("sender=evil")).toBe(2);
    expect(await rowsOf(`id=${num(r.message_id)}&outcome=failed`)).toBe(1);
    expect(await rowsOf("reply=greeting")).toBe(1);
    expect(await rowsOf("reply=5.1.1")).toBe(1);
    const from = at(10).toISOString().slice(0, 16);
    expect(await rowsOf(`from=${from}`)).toBe(2);
    // The purged message's attempts stay, with the sender unknown.
    expect(await (await browse("/admin/log?id=424242")).text()).toContain("(purged)");
    expect((await browse("/admin/log?from=yesterday")).status).toBe(400);
    await tdb.storage.db.delete(attempts);
  });

  it("logout ends the session on the server: the old cookie is refused afterwards", async () => {
    expect((await browse("/admin")).status).toBe(200);
    const out = await browse("/admin/logout", { body: form({}) });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/mailcluster_admin=;/);
    // A client that keeps the cookie anyway gets nowhere.
    const again = await browse("/admin");
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toBe("/admin/login");
    expect((await browse("/admin/queue/domain/far.test/hold", { body: form({}) })).status).toBe(401);
  });

  it("a session expires after its lifetime", async () => {
    const ok = await browse("/admin/login", { body: form({ token: TOKEN }), cookie: null });
    const fresh = (ok.headers.get("set-cookie") ?? "").split(";")[0];
    expect(ok.headers.get("set-cookie")).toMatch(/Max-Age=43200/);
    expect((await browse("/admin", { cookie: fresh })).status).toBe(200);
    clock.advance(12 * 3600_000 + 1000);
    expect((await browse("/admin", { cookie: fresh })).status).toBe(303);
    // Two sessions are two rows: logging in twice does not share one cookie.
    expect(fresh).not.toBe(cookie);
  });
});
