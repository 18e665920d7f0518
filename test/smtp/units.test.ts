import { describe, expect, it } from "vitest";
import { AuthThrottle } from "../../src/smtp/auth-throttle.ts";
import { parseNetworks } from "../../src/smtp/cidr.ts";
import { checkAddress, isAddressError } from "../../src/smtp/address-check.ts";
import { parseHeaderFields } from "../../src/util/headers.ts";
import { receivedHeader, rfc5322Date } from "../../src/smtp/received.ts";
import { ManualClock } from "../../src/util/clock.ts";

describe("trusted network lists", () => {
  it("matches IPv4, IPv6 and IPv4-mapped clients; reports entries that are not CIDRs", () => {
    const n = parseNetworks(" 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32, 10.0.0.0/33, host.example, 1.2.3.4/8/9");
    expect(n.contains("10.200.1.1")).toBe(true);
    expect(n.contains("::ffff:10.1.2.3")).toBe(true);
    expect(n.contains("192.168.1.7")).toBe(true);
    expect(n.contains("192.168.1.8")).toBe(false);
    expect(n.contains("2001:db8:1::5")).toBe(true);
    expect(n.contains("2001:db9::1")).toBe(false);
    expect(n.contains("not an ip")).toBe(false);
    expect(n.invalid).toEqual(["10.0.0.0/33", "host.example", "1.2.3.4/8/9"]);
    expect(parseNetworks("").contains("127.0.0.1")).toBe(false);
  });
});

describe("AUTH failure throttling", () => {
  it("slows each failure down more, locks out after the limit, forgets after the lockout", () => {
    const clock = new ManualClock();
    const t = new AuthThrottle(clock);
    const limits = { maxFailures: 3, failureDelayMs: 100, lockoutSeconds: 60 };
    expect(t.fail("192.0.2.1", limits)).toBe(100);
    expect(t.fail("192.0.2.1", limits)).toBe(200);
    expect(t.lockedFor("192.0.2.1")).toBe(0);
    expect(t.fail("192.0.2.1", limits)).toBe(300);
    expect(t.lockedFor("192.0.2.1")).toBe(60);
    expect(t.lockedFor("192.0.2.2")).toBe(0);
    clock.advance(30_000);
    expect(t.lockedFor("192.0.2.1")).toBe(30);
    clock.advance(31_000);
    expect(t.lockedFor("192.0.2.1")).toBe(0);
    expect(t.fail("192.0.2.1", limits)).toBe(100); // old failures forgotten
  });
});

describe("address checks", () => {
  it("refuses what the parser lets through but is not a mailbox", () => {
    const code = (a: string, utf8 = false) => {
      const r = checkAddress(a, "recipient", utf8);
      return isAddressError(r) ? `${r.responseCode} ${r.message.slice(0, 5)}` : "ok";
    };
    expect(code("user@example.org")).toBe("ok");
    expect(code("user@localhost")).toBe("553 5.1.3");
    expect(code("user@exa_mple.org")).toBe("553 5.1.3");
    expect(code("user@[300.1.1.1")).toBe("553 5.1.3");
    expect(code("jörg@example.org")).toBe("553 5.6.7");
    expect(code("jörg@exämple.org", true)).toBe("ok");
    expect(code(`${"a".repeat(65)}@example.org`)).toBe("553 5.1.3");
    expect(code(`a@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.org`)).toBe("ok");
    expect(code(`a@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(10)}.org`)).toBe("553 5.1.3");
    const literal = checkAddress("u@[192.0.2.1]", "recipient", false);
    expect(isAddressError(literal) ? null : literal.ipLiteral).toBe(true);
    const sender = checkAddress("nodomain", "sender", false);
    expect(isAddressError(sender) ? sender.message.slice(0, 5) : null).toBe("5.1.7");
  });
});

describe("Received header and header parsing", () => {
  it("formats RFC 5322 dates and neutralises control characters from the client", () => {
    expect(rfc5322Date(new Date(Date.UTC(2026, 10, 28, 9, 5, 3)))).toBe("Sat, 28 Nov 2026 09:05:03 +0000");
    const h = receivedHeader({
      helo: "evil\r\nX-Injected: yes",
      clientHostname: null,
      clientAddress: "192.0.2.1",
      byHost: "mx.test",
      protocol: "ESMTPSA",
      tls: "TLSv1.3 TLS_AES_256_GCM_SHA384",
      authenticatedUser: "alice@local.test",
      id: "abc.1",
      recipient: "bob@local.test",
      date: new Date(Date.UTC(2026, 0, 1)),
    });
    expect(h).toBe(
      "Received: from evil??X-Injected: yes (unknown [192.0.2.1])\r\n\t(authenticated as alice@local.test)\r\n\tby mx.test (mailcluster) with ESMTPSA id abc.1\r\n\t(using TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n\tfor <bob@local.test>; Thu, 1 Jan 2026 00:00:00 +0000\r\n",
    );
    expect(h.split("\r\n").filter((l) => l !== "" && !l.startsWith("\t") && !l.startsWith("Received:"))).toEqual([]);
  });

  it("unfolds headers and stops at the body", () => {
    const fields = parseHeaderFields(Buffer.from("Subject: a\r\n  folded\r\nFrom: x@y.z\r\n\r\nNot: a header\r\n"));
    expect(fields).toEqual([
      { name: "Subject", value: "a folded" },
      { name: "From", value: "x@y.z" },
    ]);
  });
});
