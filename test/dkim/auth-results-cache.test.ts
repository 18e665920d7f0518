import { describe, expect, it } from "vitest";
import { createAuthResultsCache } from "../../src/dkim/auth-results-cache.ts";
import type { InboundAuthResult } from "../../src/dkim/auth-results.ts";

const result = (over: Partial<InboundAuthResult> = {}): InboundAuthResult => ({
  header: "Authentication-Results: mx; dkim=none; spf=pass; dmarc=none\r\n",
  dkim: "none",
  spf: "pass",
  dmarc: "none",
  timedOut: false,
  ...over,
});
const msg = (headers: { name: string; value: string }[], sender = "a@x.example") => ({ clientAddress: "192.0.2.1", helo: "mta.x.example", sender, headers });

describe("inbound authentication results cache", () => {
  it("signed messages (DKIM or ARC) are never cached", () => {
    const c = createAuthResultsCache();
    expect(c.keyOf(msg([{ name: "DKIM-Signature", value: "v=1; d=x.example" }, { name: "From", value: "a@x.example" }]))).toBeNull();
    expect(c.keyOf(msg([{ name: "ARC-Seal", value: "i=1" }]))).toBeNull();
    expect(c.keyOf(msg([{ name: "From", value: "a@x.example" }]))).not.toBeNull();
  });

  it("the key follows IP, HELO, MAIL FROM and From; case does not matter", () => {
    const c = createAuthResultsCache();
    const k = c.keyOf(msg([{ name: "From", value: "A@X.example" }]));
    expect(c.keyOf(msg([{ name: "from", value: "a@x.example" }]))).toBe(k);
    expect(c.keyOf(msg([{ name: "From", value: "b@y.example" }]))).not.toBe(k);
    expect(c.keyOf(msg([{ name: "From", value: "a@x.example" }], "other@x.example"))).not.toBe(k);
    expect(c.keyOf({ ...msg([{ name: "From", value: "a@x.example" }]), clientAddress: "192.0.2.2" })).not.toBe(k);
  });

  it("entries expire after the TTL; timed-out results are not kept; the oldest goes when full", () => {
    const c = createAuthResultsCache({ ttlMs: 1000, maxEntries: 2 });
    c.set("a", result(), 0);
    expect(c.get("a", 999)?.spf).toBe("pass");
    expect(c.get("a", 1000)).toBeNull();
    c.set("t", result({ timedOut: true }), 0);
    expect(c.get("t", 1)).toBeNull();
    c.set("1", result(), 0);
    c.set("2", result(), 0);
    c.set("3", result(), 0);
    expect(c.get("1", 1)).toBeNull();
    expect(c.get("3", 1)).not.toBeNull();
  });
});
