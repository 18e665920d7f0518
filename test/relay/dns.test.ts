import { describe, expect, it } from "vitest";
import { classifyDnsError, dnsError } from "../../src/domain/dns.ts";
import { createSystemResolver, parseDnsServers } from "../../src/relay/dns.ts";
import { orderMx, resolveHostTargets, resolveMxTargets } from "../../src/relay/targets.ts";
import { fakeDns } from "./fake-dns.ts";

/** A Random that plays back the given values, in a loop. */
const seq = (...values: number[]) => {
  let i = 0;
  return { next: () => values[i++ % values.length] };
};

describe("MX resolution (injected DNS)", () => {
  it("orders MX hosts by preference and shuffles equal preferences with the injected Random", async () => {
    const records = [
      { exchange: "c.test", priority: 20 },
      { exchange: "a1.test", priority: 10 },
      { exchange: "a2.test", priority: 10 },
      { exchange: "a3.test", priority: 10 },
    ];
    // Fisher–Yates from the end: values near 1 keep the order, 0 swaps with the first.
    expect(orderMx(records, seq(0.99)).map((r) => r.exchange)).toEqual(["a1.test", "a2.test", "a3.test", "c.test"]);
    expect(orderMx(records, seq(0)).map((r) => r.exchange)).toEqual(["a2.test", "a3.test", "a1.test", "c.test"]);
    // Every permutation of the equal group shows up over many draws; the lower preference never moves.
    const seen = new Set<string>();
    let state = 1;
    const lcg = { next: () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) };
    for (let i = 0; i < 200; i++) {
      const order = orderMx(records, lcg).map((r) => r.exchange);
      expect(order[3]).toBe("c.test");
      seen.add(order.join(","));
    }
    expect(seen.size).toBe(6);
  });

  it("turns MX hosts into addresses, IPv4 first, in MX order", async () => {
    const dns = fakeDns({
      "dest.test": { mx: [{ exchange: "mx2.dest.test", priority: 20 }, { exchange: "mx1.dest.test", priority: 10 }] },
      "mx1.dest.test": { a: ["192.0.2.1"], aaaa: ["2001:db8::1"] },
      "mx2.dest.test": { a: ["192.0.2.2"] },
    });
    const r = await resolveMxTargets(dns, "dest.test", 25, seq(0.5));
    expect(r).toEqual({
      ok: true,
      targets: [
        { address: "192.0.2.1", port: 25, name: "mx1.dest.test" },
        { address: "2001:db8::1", port: 25, name: "mx1.dest.test" },
        { address: "192.0.2.2", port: 25, name: "mx2.dest.test" },
      ],
    });
  });

  it("falls back to the domain's own A/AAAA when it has no MX", async () => {
    const dns = fakeDns({ "plain.test": { a: ["192.0.2.7"] } });
    const r = await resolveMxTargets(dns, "plain.test", 25, seq(0.5));
    expect(r).toEqual({ ok: true, targets: [{ address: "192.0.2.7", port: 25, name: "plain.test" }] });
    expect(dns.questions).toEqual(["mx plain.test", "a plain.test", "aaaa plain.test"]);
  });

  it("null MX (RFC 7505) is a permanent 5.1.10 failure", async () => {
    const dns = fakeDns({ "nomail.test": { mx: [{ exchange: "", priority: 0 }], a: ["192.0.2.9"] } });
    const r = await resolveMxTargets(dns, "nomail.test", 25, seq(0.5));
    expect(r).toMatchObject({ ok: false, permanent: true, reply: { code: 556, enhanced: "5.1.10" } });
  });

  it("NXDOMAIN is permanent, SERVFAIL and timeouts are temporary", async () => {
    const dns = fakeDns({ "broken.test": { mx: "SERVFAIL" }, "slow.test": { mx: "TIMEOUT" } });
    expect(await resolveMxTargets(dns, "missing.test", 25, seq(0.5))).toMatchObject({ ok: false, permanent: true, reply: { code: 550, enhanced: "5.1.2" } });
    expect(await resolveMxTargets(dns, "broken.test", 25, seq(0.5))).toMatchObject({ ok: false, permanent: false, reply: { code: 451, enhanced: "4.4.3" } });
    expect(await resolveMxTargets(dns, "slow.test", 25, seq(0.5))).toMatchObject({ ok: false, permanent: false, reply: { code: 451, enhanced: "4.4.3" } });
  });

  it("an MX host without addresses is skipped; all of them temporary-failing defers, none existing fails", async () => {
    const dns = fakeDns({
      "half.test": { mx: [{ exchange: "gone.half.test", priority: 5 }, { exchange: "ok.half.test", priority: 10 }] },
      "ok.half.test": { a: ["192.0.2.3"] },
      "tmp.test": { mx: [{ exchange: "mx.tmp.test", priority: 5 }] },
      "mx.tmp.test": { a: "SERVFAIL", aaaa: "SERVFAIL" },
      "dead.test": { mx: [{ exchange: "mx.dead.test", priority: 5 }] },
    });
    expect(await resolveMxTargets(dns, "half.test", 25, seq(0.5))).toEqual({ ok: true, targets: [{ address: "192.0.2.3", port: 25, name: "ok.half.test" }] });
    expect(await resolveMxTargets(dns, "tmp.test", 25, seq(0.5))).toMatchObject({ ok: false, permanent: false });
    expect(await resolveMxTargets(dns, "dead.test", 25, seq(0.5))).toMatchObject({ ok: false, permanent: true, reply: { enhanced: "5.4.4" } });
  });

  it("route hosts: IP literals as given, names by A/AAAA, unresolvable defers", async () => {
    const dns = fakeDns({ "relay.lan": { a: ["10.0.0.5"] } });
    expect(await resolveHostTargets(dns, [{ host: "192.0.2.50", port: 2525 }, { host: "relay.lan", port: 25 }], "route")).toEqual({
      ok: true,
      targets: [
        { address: "192.0.2.50", port: 2525, name: "192.0.2.50" },
        { address: "10.0.0.5", port: 25, name: "relay.lan" },
      ],
    });
    expect(await resolveHostTargets(dns, [{ host: "nope.lan", port: 25 }], "route")).toMatchObject({ ok: false, permanent: false });
  });

  it("the system resolver uses the configured servers: an unreachable one is a temporary failure", async () => {
    const resolver = createSystemResolver({ servers: ["127.0.0.1:9"], timeoutMs: 300, tries: 1 });
    const r = await resolveMxTargets(resolver, "example.org", 25, seq(0.5));
    expect(r).toMatchObject({ ok: false, permanent: false, reply: { code: 451, enhanced: "4.4.3" } });
  });

  it("classifies node's error codes and parses the dns_servers setting", () => {
    expect(classifyDnsError(dnsError("ENOTFOUND", "x"))).toBe("nxdomain");
    expect(classifyDnsError(dnsError("ENODATA", "x"))).toBe("nodata");
    expect(classifyDnsError(dnsError("ESERVFAIL", "x"))).toBe("temporary");
    expect(classifyDnsError(new Error("boom"))).toBe("temporary");
    expect(parseDnsServers(" 1.1.1.1, 8.8.8.8 [2001:db8::1]:53 ")).toEqual(["1.1.1.1", "8.8.8.8", "[2001:db8::1]:53"]);
    expect(parseDnsServers("")).toEqual([]);
  });
});
