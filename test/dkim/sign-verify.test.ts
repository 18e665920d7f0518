import { dkimVerify } from "mailauth";
import { describe, expect, it } from "vitest";
import { inboundAuthResults } from "../../src/dkim/auth-results.ts";
import { type DkimAlgorithm, dnsRecord, nodeKeyGenerator, parseAlgorithm } from "../../src/dkim/keys.ts";
import { DkimKeyring } from "../../src/dkim/keyring.ts";
import { cachingResolver } from "../../src/dkim/resolver.ts";
import { existingSignatures, fromDomain, signParts } from "../../src/dkim/sign.ts";
import type { DkimSigningKey } from "../../src/dkim/store.ts";
import { authservIdOf, stripAuthResults } from "../../src/dkim/strip.ts";
import { parseHeaderFields } from "../../src/util/headers.ts";
import { fakeAuthDns } from "./fake-dns.ts";

const NOW = new Date(Date.UTC(2026, 11, 2, 12));

function message(from = "alice@example.com", body = "Hello,\r\nthis is the body.\r\n"): Buffer {
  return Buffer.from(
    `Received: from client by mx.test; Wed, 2 Dec 2026 12:00:00 +0000\r\nFrom: Alice <${from}>\r\nTo: bob@example.net\r\nSubject: test  message\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n${body}`,
  );
}

async function keyFor(domain: string, selector: string, algorithm: DkimAlgorithm): Promise<{ key: DkimSigningKey; txt: Record<string, string[]> }> {
  const pair = await nodeKeyGenerator(algorithm);
  const dns = dnsRecord(domain, selector, algorithm, pair.publicKey);
  return { key: { domain, selector, algorithm, privateKey: pair.privateKey, createdAt: NOW }, txt: { [dns.name]: [dns.value] } };
}

async function signed(content: Buffer, keys: DkimSigningKey[]): Promise<Buffer> {
  const sig = await signParts([content.subarray(0, 40), content.subarray(40)], keys, { now: NOW, headerFields: parseHeaderFields(content) });
  if (!sig) throw new Error("not signed");
  return Buffer.concat([Buffer.from(sig.header), content]);
}

describe("DKIM signing verifies with mailauth against the published record", () => {
  for (const algorithm of ["rsa-sha256", "ed25519-sha256"] as const) {
    it(`${algorithm}: pass, relaxed/relaxed; an altered body or header fails`, async () => {
      const { key, txt } = await keyFor("example.com", "s1", algorithm);
      const dns = fakeAuthDns(txt);
      const out = await signed(message(), [key]);
      const header = out.toString().split("\r\n")[0];
      expect(header).toMatch(/^DKIM-Signature: v=1; a=/);
      expect(header).toContain(`a=${algorithm}`);
      expect(out.toString()).toMatch(/c=relaxed\/relaxed/);

      const ok = await dkimVerify(out, { resolver: dns, curTime: NOW });
      expect(ok.results).toHaveLength(1);
      expect(ok.results[0]).toMatchObject({ signingDomain: "example.com", selector: "s1", status: { result: "pass" } });
      expect(dns.questions).toContain("TXT s1._domainkey.example.com");

      // relaxed: whitespace changes in a header still pass
      const rewhitespaced = Buffer.from(out.toString().replace("Subject: test  message", "Subject:   test message"));
      expect((await dkimVerify(rewhitespaced, { resolver: dns, curTime: NOW })).results[0].status.result).toBe("pass");

      // mailauth answers a body hash mismatch with "neutral" and says why; a bad header signature is "fail".
      const body = Buffer.from(out.toString().replace("this is the body.", "this is another body."));
      const bodyResult = (await dkimVerify(body, { resolver: dns, curTime: NOW })).results[0].status;
      expect(bodyResult.result).toBe("neutral");
      expect(bodyResult.comment).toMatch(/body hash did not verify/);
      const subject = Buffer.from(out.toString().replace("Subject: test  message", "Subject: changed"));
      expect((await dkimVerify(subject, { resolver: dns, curTime: NOW })).results[0].status.result).toBe("fail");
    });
  }

  it("signs with RSA and Ed25519 together, and never twice with the same domain and selector", async () => {
    const rsa = await keyFor("example.com", "r1", "rsa-sha256");
    const ed = await keyFor("example.com", "e1", "ed25519-sha256");
    const dns = fakeAuthDns({ ...rsa.txt, ...ed.txt });
    const once = await signed(message(), [rsa.key, ed.key]);
    const r = await dkimVerify(once, { resolver: dns, curTime: NOW });
    expect(r.results.map((x) => `${x.selector} ${x.status.result}`).sort()).toEqual(["e1 pass", "r1 pass"]);
    expect([...existingSignatures(parseHeaderFields(once))].sort()).toEqual(["example.com e1", "example.com r1"]);
    // A second pass (a member hand-off) finds both signatures and adds none.
    expect(await signParts([once], [rsa.key, ed.key], { now: NOW, headerFields: parseHeaderFields(once) })).toBeNull();
  });

  it("prints the TXT record as the brief says, split into 255-octet strings for RSA", async () => {
    const pair = await nodeKeyGenerator("rsa-sha256");
    const rec = dnsRecord("example.com", "mc202612", "rsa-sha256", pair.publicKey);
    expect(rec.name).toBe("mc202612._domainkey.example.com");
    expect(rec.value).toBe(`v=DKIM1; k=rsa; p=${pair.publicKey}`);
    expect(rec.zoneLine.startsWith('mc202612._domainkey.example.com TXT "v=DKIM1; k=rsa; p=')).toBe(true);
    expect(rec.zoneLine.match(/"[^"]*"/g)?.every((s) => s.length <= 257)).toBe(true);
    expect(rec.zoneLine.match(/"([^"]*)"/g)?.map((s) => s.slice(1, -1)).join("")).toBe(rec.value);
    const ed = await nodeKeyGenerator("ed25519-sha256");
    expect(Buffer.from(ed.publicKey, "base64")).toHaveLength(32);
    expect(dnsRecord("example.com", "e", "ed25519-sha256", ed.publicKey).value).toBe(`v=DKIM1; k=ed25519; p=${ed.publicKey}`);
    expect(parseAlgorithm("RSA")).toBe("rsa-sha256");
    expect(parseAlgorithm("ed25519")).toBe("ed25519-sha256");
    expect(parseAlgorithm("dsa")).toBeNull();
  });

  it("finds the From domain with display names and comments", () => {
    expect(fromDomain(parseHeaderFields(Buffer.from('From: "Smith, J" <j@Sub.Example.COM>\r\n\r\n')))).toBe("sub.example.com");
    expect(fromDomain(parseHeaderFields(Buffer.from("Subject: none\r\n\r\n")))).toBeNull();
  });
});

describe("the keyring", () => {
  it("loads once, serves parents when asked, reloads in the background after the interval", async () => {
    let now = 0;
    let loads = 0;
    const key = (domain: string, selector: string, algorithm: DkimAlgorithm, at: number): DkimSigningKey => ({ domain, selector, algorithm, privateKey: "x", createdAt: new Date(at) });
    let rows = [key("example.com", "new", "rsa-sha256", 2), key("example.com", "old", "rsa-sha256", 1), key("example.com", "ed", "ed25519-sha256", 1)];
    const ring = new DkimKeyring({ load: async () => (loads++, rows), now: () => now, refreshMs: 1000 });
    expect((await ring.keysFor("example.com")).map((k) => k.selector)).toEqual(["new", "ed"]);
    expect(await ring.keysFor("mx1.example.com")).toEqual([]);
    expect((await ring.keysFor("mx1.example.com", { parents: true })).map((k) => k.selector)).toEqual(["new", "ed"]);
    expect(await ring.keysFor("com", { parents: true })).toEqual([]);
    for (let i = 0; i < 100; i++) await ring.keysFor("example.com");
    expect(loads).toBe(1);
    rows = [];
    now = 1500;
    // Stale: this message still gets the old keys, the reload runs behind it.
    expect(await ring.keysFor("example.com")).toHaveLength(2);
    await ring.refresh();
    expect(await ring.keysFor("example.com")).toEqual([]);
    expect(loads).toBe(3);
  });
});

describe("inbound Authentication-Results", () => {
  it("dkim=pass, spf=pass and dmarc=pass from the fake DNS, authserv-id ours", async () => {
    const { key, txt } = await keyFor("example.com", "s1", "ed25519-sha256");
    const dns = fakeAuthDns({ ...txt, "example.com": ["v=spf1 ip4:192.0.2.10 -all"], "_dmarc.example.com": ["v=DMARC1; p=reject"] });
    const msg = await signed(message(), [key]);
    const r = await inboundAuthResults({ parts: [msg], ip: "192.0.2.10", helo: "out.example.com", sender: "alice@example.com", authservId: "mx.test", resolver: dns, timeoutMs: 5000 });
    expect(r).toMatchObject({ dkim: "pass", spf: "pass", dmarc: "pass", timedOut: false });
    expect(r.header).toMatch(/^Authentication-Results: mx\.test;\r\n/);
    expect(r.header).toMatch(/dkim=pass header\.i=@example\.com header\.s=s1 header\.a=ed25519-sha256/);
    expect(r.header).toMatch(/spf=pass [^;]*smtp\.mailfrom=(alice@)?example\.com/);
    expect(r.header).toMatch(/dmarc=pass/);
    expect(r.header.endsWith("\r\n")).toBe(true);
    expect(authservIdOf(r.header.slice("Authentication-Results:".length))).toBe("mx.test");
  });

  it("spf=fail, dkim=none, dmarc=fail for an unsigned message from a wrong address", async () => {
    const dns = fakeAuthDns({ "example.com": ["v=spf1 ip4:192.0.2.10 -all"], "_dmarc.example.com": ["v=DMARC1; p=reject"] });
    const r = await inboundAuthResults({ parts: [message()], ip: "198.51.100.7", helo: "bad.example", sender: "alice@example.com", authservId: "mx.test", resolver: dns, timeoutMs: 5000 });
    expect(r).toMatchObject({ dkim: "none", spf: "fail", dmarc: "fail" });
    expect(r.header).toMatch(/spf=fail/);
    expect(r.header).toMatch(/dmarc=fail/);
  });

  it("a resolver that never answers gives temperror after the timeout, not a held DATA", async () => {
    const silent = () => new Promise<string[][]>(() => {});
    const t0 = Date.now();
    const r = await inboundAuthResults({ parts: [message()], ip: "192.0.2.10", helo: null, sender: "alice@example.com", authservId: "mx.test", resolver: silent, timeoutMs: 50 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r).toMatchObject({ timedOut: true, dkim: "temperror", spf: "temperror", dmarc: "temperror" });
    expect(r.header).toMatch(/^Authentication-Results: mx\.test;/);
  });

  it("the caching resolver asks once per name and type, keeps NXDOMAIN, forgets SERVFAIL", async () => {
    let now = 0;
    const dns = fakeAuthDns({ "example.com": ["v=spf1 -all"] });
    let servfails = 0;
    const inner = async (name: string, rrtype: string) => {
      if (name === "flaky.example") {
        servfails++;
        throw Object.assign(new Error("SERVFAIL"), { code: "ESERVFAIL" });
      }
      return dns(name, rrtype);
    };
    const cached = cachingResolver(inner, { now: () => now, ttlMs: 1000 });
    for (let i = 0; i < 3; i++) await cached("example.com", "TXT");
    for (let i = 0; i < 3; i++) await expect(cached("nope.example", "TXT")).rejects.toMatchObject({ code: "ENOTFOUND" });
    for (let i = 0; i < 2; i++) await expect(cached("flaky.example", "TXT")).rejects.toMatchObject({ code: "ESERVFAIL" });
    expect(dns.questions).toEqual(["TXT example.com", "TXT nope.example"]);
    expect(servfails).toBe(2);
    now = 2000;
    await cached("example.com", "TXT");
    expect(dns.questions).toHaveLength(3);
  });
});

describe("stripping forged Authentication-Results (RFC 8601 §5)", () => {
  it("removes fields with our authserv-id only, folded or not, leaves the body alone", () => {
    const m = Buffer.from(
      "Authentication-Results: MX.TEST (forged);\r\n dkim=pass header.d=bank.example\r\nAuthentication-Results: other.example; spf=pass\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.test; in the body\r\n",
    );
    const out = stripAuthResults(m, new Set(["mx.test"])).toString();
    expect(out).toBe("Authentication-Results: other.example; spf=pass\r\nSubject: hi\r\n\r\nAuthentication-Results: mx.test; in the body\r\n");
    const untouched = Buffer.from("Subject: x\r\n\r\nbody");
    expect(stripAuthResults(untouched, new Set(["mx.test"]))).toBe(untouched);
    expect(authservIdOf(" mx.test 1; none")).toBe("mx.test");
  });
});
