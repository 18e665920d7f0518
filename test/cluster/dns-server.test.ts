import { Resolver } from "node:dns/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsServer, startDnsServer } from "../helpers/dns-server.ts";

/** The DNS server the cluster test points its processes at (dns_servers setting). */
describe("test DNS server", () => {
  let dns: DnsServer;
  let resolver: Resolver;
  beforeAll(async () => {
    dns = await startDnsServer({ "external.test": { mx: [{ exchange: "mx.external.test", priority: 10 }] }, "mx.external.test": { a: ["127.0.0.1"] } });
    resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([dns.address]);
  });
  afterAll(async () => {
    await dns.close();
  });

  it("answers MX and A from its table", async () => {
    expect(await resolver.resolveMx("external.test")).toEqual([{ exchange: "mx.external.test", priority: 10 }]);
    expect(await resolver.resolve4("MX.external.test")).toEqual(["127.0.0.1"]);
    expect(dns.questions).toEqual(["mx external.test", "a mx.external.test"]);
  });

  it("NXDOMAIN for unknown names", async () => {
    await expect(resolver.resolveMx("nowhere.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });
});
