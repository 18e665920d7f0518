import { describe, expect, it } from "vitest";
import { canonicalAddress as accountKey } from "../../src/accounts/store.ts";
import { canonicalAddress, domainOf, normalizeAddress } from "../../src/domain/address.ts";

describe("address normalisation (src/domain/address.ts)", () => {
  it("the storage key is trimmed and lower-cased as a whole, for accounts and suppressions alike", () => {
    expect(canonicalAddress("  Bob.Smith@Example.COM ")).toBe("bob.smith@example.com");
    expect(accountKey).toBe(canonicalAddress);
  });

  it("the envelope form keeps the local part and lower-cases the domain", () => {
    expect(normalizeAddress("Bob.Smith@Example.COM")).toBe("Bob.Smith@example.com");
    expect(normalizeAddress("postmaster")).toBe("postmaster");
    expect(domainOf("a@B.example")).toBe("b.example");
    expect(domainOf("postmaster")).toBe("");
  });
});
