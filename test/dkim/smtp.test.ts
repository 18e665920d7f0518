import { dkimVerify } from "mailauth";
import nodemailer from "nodemailer";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { memberCredentials } from "../../src/cluster/member-credentials.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { signGenerated } from "../../src/dkim/sign.ts";
import { generateDkimKey } from "../../src/dkim/store.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, startHarness, type Harness } from "../smtp/harness.ts";
import { fakeAuthDns } from "./fake-dns.ts";

let tdb: TestDatabase;
let h: Harness;
const txt: Record<string, string[]> = {
  "sender.example.com": ["v=spf1 ip4:127.0.0.1 -all"],
  "_dmarc.sender.example.com": ["v=DMARC1; p=none"],
};
const dns = fakeAuthDns(txt);

beforeAll(async () => {
  tdb = await createTestDatabase();
  const db = tdb.storage.db;
  await addDomain(db, "local.example.com");
  await addDomain(db, "other.example.net");
  await addAccount(db, { address: "alice@local.example.com", password: "alice-secret" });
  await addAccount(db, { address: "bob@other.example.net", password: "bob-secret" });
  const now = new Date();
  for (const [domain, selector, algorithm] of [["local.example.com", "rsa1", "rsa"], ["local.example.com", "ed1", "ed25519"], ["other.example.net", "s1", "ed25519"]] as const) {
    const k = await generateDkimKey(db, { domain, selector, algorithm, now });
    txt[k.dns.name] = [k.dns.value];
  }
  h = await startHarness(tdb.storage, { allow_insecure_auth: true, smtp_auth_max_failures: 100 }, { authDns: dns });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  h.settings.inbound_auth_results = true;
  h.settings.primary_domain = "";
  await clearQueue(tdb.storage);
});

async function send(o: { auth?: { user: string; pass: string }; from: string; to: string; raw: string }): Promise<string> {
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: h.port, ignoreTLS: true, auth: o.auth });
  try {
    const info = await t.sendMail({ envelope: { from: o.from, to: [o.to] }, raw: o.raw });
    const id = /queued as (\d+)/.exec(info.response)?.[1];
    if (!id) throw new Error(info.response);
    const [row] = await queryRows(tdb.storage.db, sql`SELECT convert_from(content, 'UTF8') AS body FROM message_bodies WHERE message_id = ${Number(id)} AND part = 0`);
    return str(row.body);
  } finally {
    t.close();
  }
}

const raw = (from: string, extra = "") => `${extra}From: ${from}\r\nTo: friend@far.example.org\r\nSubject: hello\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\nHello there.\r\n`;

function signatures(body: string): string[] {
  return body.split(/\r\n(?![ \t])/).filter((f) => /^dkim-signature:/i.test(f));
}

describe("outbound: authenticated submissions are signed before they are queued", () => {
  it("RSA and Ed25519 signatures of the From domain that verify against the published records", async () => {
    const body = await send({ auth: { user: "alice@local.example.com", pass: "alice-secret" }, from: "alice@local.example.com", to: "friend@far.example.org", raw: raw("Alice <alice@local.example.com>") });
    expect(signatures(body)).toHaveLength(2);
    expect(body).not.toMatch(/^Authentication-Results:/m);
    const r = await dkimVerify(Buffer.from(body), { resolver: dns });
    expect(r.results.map((x) => `${x.signingDomain} ${x.selector} ${x.status.result}`).sort()).toEqual(["local.example.com ed1 pass", "local.example.com rsa1 pass"]);
  });

  it("an account is not signed for another of our domains, nor for a foreign From", async () => {
    const auth = { user: "alice@local.example.com", pass: "alice-secret" };
    expect(signatures(await send({ auth, from: "alice@local.example.com", to: "x@far.example.org", raw: raw("bob@other.example.net") }))).toEqual([]);
    expect(signatures(await send({ auth, from: "alice@local.example.com", to: "x@far.example.org", raw: raw("someone@gmail.example") }))).toEqual([]);
  });

  it("a member hand-off (forwarding server *) passes the message on with exactly the one signature it had", async () => {
    const signed = await send({ auth: { user: "bob@other.example.net", pass: "bob-secret" }, from: "bob@other.example.net", to: "friend@far.example.org", raw: raw("bob@other.example.net") });
    expect(signatures(signed)).toHaveLength(1);
    const secret = await h.ctx.clusterSecret.get();
    const asQueued = signed.slice(signed.indexOf("DKIM-Signature:"));
    const relayed = await send({ auth: memberCredentials(secret, "be-1", h.ctx.config.memberName, h.clock.now()), from: "bob@other.example.net", to: "friend@far.example.org", raw: asQueued });
    expect(signatures(relayed)).toEqual(signatures(signed));
    expect(relayed).not.toMatch(/^Authentication-Results:/m);
    // And an account resubmitting an already signed message does not get a second one either.
    const again = await send({ auth: { user: "bob@other.example.net", pass: "bob-secret" }, from: "bob@other.example.net", to: "friend@far.example.org", raw: asQueued });
    expect(signatures(again)).toHaveLength(1);
    expect((await dkimVerify(Buffer.from(relayed), { resolver: dns })).results.map((x) => x.status.result)).toEqual(["pass"]);
  });
});

describe("inbound: Authentication-Results from the injected DNS", () => {
  it("records dkim, spf and dmarc under our authserv-id, and removes a forged field claiming it", async () => {
    const forged = "Authentication-Results: mx.test; dkim=pass header.d=bank.example\r\n";
    const body = await send({ from: "news@sender.example.com", to: "alice@local.example.com", raw: raw("news@sender.example.com", forged) });
    const ar = body.split(/\r\n(?![ \t])/).filter((f) => /^authentication-results:/i.test(f));
    expect(ar).toHaveLength(1);
    expect(body.startsWith("Authentication-Results: mx.test;")).toBe(true);
    expect(ar[0]).toMatch(/dkim=none/);
    expect(ar[0]).toMatch(/spf=pass [^;]*smtp\.mailfrom=news@sender\.example\.com/);
    // SPF passes for the From domain (relaxed alignment), so DMARC passes too.
    expect(ar[0]).toMatch(/dmarc=pass \(p=NONE/);
    expect(body).not.toContain("bank.example");
    expect(signatures(body)).toEqual([]);
  });

  it("dkim=pass and dmarc=pass for mail signed by a domain that publishes its key; authserv-id = primary_domain when set", async () => {
    h.settings.primary_domain = "local.example.com";
    const k = await generateDkimKey(tdb.storage.db, { domain: "other.example.net", selector: "in1", algorithm: "ed25519", now: new Date() });
    txt[k.dns.name] = [k.dns.value];
    txt["other.example.net"] = ["v=spf1 -all"];
    txt["_dmarc.other.example.net"] = ["v=DMARC1; p=reject"];
    const content = Buffer.from(raw("bob@other.example.net"));
    await h.ctx.dkimKeys.refresh();
    const signed = Buffer.from(await signGenerated(h.ctx, content, "other.example.net")).toString();
    const body = await send({ from: "bob@other.example.net", to: "alice@local.example.com", raw: signed });
    const ar = body.slice(0, body.indexOf("\r\nReceived:"));
    expect(ar.startsWith("Authentication-Results: local.example.com;")).toBe(true);
    expect(ar).toMatch(/dkim=pass header\.i=@other\.example\.net/);
    expect(ar).toMatch(/spf=fail/);
    expect(ar).toMatch(/dmarc=pass/);
  });

  it("a burst of unsigned mail from one sender is evaluated once; another From is evaluated anew", async () => {
    txt["burst.example.com"] = ["v=spf1 ip4:127.0.0.1 -all"];
    const first = await send({ from: "a@burst.example.com", to: "alice@local.example.com", raw: raw("a@burst.example.com") });
    const asked = dns.questions.length;
    const second = await send({ from: "a@burst.example.com", to: "alice@local.example.com", raw: raw("a@burst.example.com") });
    expect(dns.questions.length).toBe(asked);
    const arOf = (b: string) => b.slice(0, b.indexOf("\r\nReceived:"));
    expect(arOf(second)).toBe(arOf(first));
    expect(arOf(second)).toMatch(/spf=pass [^;]*smtp\.mailfrom=a@burst\.example\.com/);
    // A different From is a different DMARC question: evaluated, not served from the cache.
    const other = await send({ from: "a@burst.example.com", to: "alice@local.example.com", raw: raw("b@sender.example.com") });
    expect(dns.questions.length).toBeGreaterThan(asked);
    expect(arOf(other)).not.toBe(arOf(first));
    expect(arOf(other)).toMatch(/sender\.example\.com/);
  });

  it("inbound_auth_results off: nothing added, DNS not asked", async () => {
    h.settings.inbound_auth_results = false;
    const before = dns.questions.length;
    const body = await send({ from: "news@sender.example.com", to: "alice@local.example.com", raw: raw("news@sender.example.com") });
    expect(body).not.toMatch(/^Authentication-Results:/m);
    expect(dns.questions.length).toBe(before);
  });
});

describe("backend-generated mail", () => {
  it("DSN-style: a host name signs with its parent domain's key; no key → unchanged bytes", async () => {
    const content = Buffer.from("From: MAILER-DAEMON@mx1.local.example.com\r\nTo: x@far.example.org\r\nSubject: bounce\r\n\r\nreport\r\n");
    const out = Buffer.from(await signGenerated(h.ctx, content, "mx1.local.example.com")).toString();
    expect(signatures(out)).toHaveLength(2);
    expect((await dkimVerify(Buffer.from(out), { resolver: dns })).results.every((x) => x.status.result === "pass")).toBe(true);
    expect(await signGenerated(h.ctx, content, "nokeys.example.org")).toBe(content);
  });
});
