import { describe, expect, it } from "vitest";
import { dnsError, type DnsResolver, type MxRecord } from "../../src/domain/dns.ts";
import { cachingResolver } from "../../src/relay/dns-cache.ts";

function countingResolver(answers: { mx: (domain: string) => Promise<MxRecord[]> }) {
  const asked: string[] = [];
  const resolver: DnsResolver = {
    resolveMx: (d) => (asked.push(`mx ${d}`), answers.mx(d)),
    resolve4: (h) => (asked.push(`a ${h}`), Promise.resolve(["192.0.2.1"])),
    resolve6: (h) => (asked.push(`aaaa ${h}`), Promise.reject(dnsError("ENODATA", h))),
    resolveTxt: (n) => (asked.push(`txt ${n}`), Promise.resolve([["v=STSv1"]])),
  };
  return { resolver, asked };
}

describe("the relay's DNS cache", () => {
  const options = { answerMs: 60_000, negativeMs: 10_000, maxEntries: 100 };

  it("answers again from memory until the answer's time is up, then asks again", async () => {
    let now = 0;
    const clock = { now: () => new Date(now) };
    const { resolver, asked } = countingResolver({ mx: () => Promise.resolve([{ exchange: "mx.example.net", priority: 10 }]) });
    const dns = cachingResolver(resolver, clock, options);
    expect(await dns.resolveMx("Example.NET")).toEqual([{ exchange: "mx.example.net", priority: 10 }]);
    now = 59_999;
    expect(await dns.resolveMx("example.net")).toEqual([{ exchange: "mx.example.net", priority: 10 }]);
    expect(await dns.resolve4("mx.example.net")).toEqual(["192.0.2.1"]);
    expect(await dns.resolve4("mx.example.net")).toEqual(["192.0.2.1"]);
    expect(asked).toEqual(["mx Example.NET", "a mx.example.net"]);
    now = 59_999 + 60_000;
    await dns.resolveMx("example.net");
    expect(asked).toEqual(["mx Example.NET", "a mx.example.net", "mx example.net"]);
  });

  it("shares one lookup between concurrent questions and hands each caller its own list", async () => {
    const clock = { now: () => new Date(0) };
    let release: (records: MxRecord[]) => void = () => {};
    const { resolver, asked } = countingResolver({ mx: () => new Promise<MxRecord[]>((r) => (release = r)) });
    const dns = cachingResolver(resolver, clock, options);
    const a = dns.resolveMx("example.net");
    const b = dns.resolveMx("example.net");
    release([{ exchange: "a.example.net", priority: 10 }, { exchange: "b.example.net", priority: 5 }]);
    const [first, second] = await Promise.all([a, b]);
    expect(asked).toEqual(["mx example.net"]);
    first.reverse();
    expect(second[0].exchange).toBe("a.example.net");
    expect((await dns.resolveMx("example.net"))[0].exchange).toBe("a.example.net");
  });

  it("keeps NXDOMAIN and NODATA for the negative time, and never a temporary failure", async () => {
    let now = 0;
    const clock = { now: () => new Date(now) };
    let failure: "ENOTFOUND" | "ESERVFAIL" = "ESERVFAIL";
    const { resolver, asked } = countingResolver({ mx: (d) => Promise.reject(dnsError(failure, d)) });
    const dns = cachingResolver(resolver, clock, options);
    await expect(dns.resolveMx("gone.example")).rejects.toMatchObject({ code: "ESERVFAIL" });
    await expect(dns.resolveMx("gone.example")).rejects.toMatchObject({ code: "ESERVFAIL" });
    expect(asked).toHaveLength(2);
    failure = "ENOTFOUND";
    await expect(dns.resolveMx("gone.example")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(dns.resolveMx("gone.example")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(dns.resolve6("mx.example.net")).rejects.toMatchObject({ code: "ENODATA" });
    await expect(dns.resolve6("mx.example.net")).rejects.toMatchObject({ code: "ENODATA" });
    expect(asked).toHaveLength(4);
    now = 10_001;
    await expect(dns.resolveMx("gone.example")).rejects.toMatchObject({ code: "ENOTFOUND" });
    expect(asked).toHaveLength(5);
  });
});
