import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addAccount, addAlias, addDomain } from "../../src/accounts/store.ts";
import { primaryPostmaster } from "../../src/smtp/address-check.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, opened, queueIdOf, queuedRecipients, type RawClient, startHarness, type Harness } from "./harness.ts";

// RFC 5321 conformance: the domainless postmaster (4.5.1), the 256-octet path (4.5.3.1.3), and
// malformed UTF-8 in an SMTPUTF8 path refused rather than stored with U+FFFD.
let tdb: TestDatabase;
let h: Harness;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "admin@local.test" });
  await addAlias(tdb.storage.db, "postmaster@local.test", ["admin@local.test"]);
  h = await startHarness(tdb.storage);
});
afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});
beforeEach(async () => {
  h.settings.primary_domain = "";
  h.settings.trusted_networks = "";
  await clearQueue(tdb.storage);
});

async function session(from = "<s@elsewhere.test>"): Promise<RawClient> {
  const c = await opened(h.port);
  expect((await c.cmd(`MAIL FROM:${from}`)).code).toBe(250);
  return c;
}

/** local@domain of exactly n octets (ASCII), local part 64. */
function addressOf(n: number, tld = "far.test"): string {
  const local = "l".repeat(64);
  let domain = tld;
  while (64 + 1 + domain.length < n) {
    const room = n - (64 + 1 + domain.length) - 1;
    domain = `${"d".repeat(Math.min(63, room))}.${domain}`;
  }
  const address = `${local}@${domain}`;
  if (address.length !== n) throw new Error(`built ${address.length} octets, wanted ${n}`);
  return address;
}

describe("RCPT TO:<postmaster> without a domain (RFC 5321 4.5.1)", () => {
  it("is accepted and queued once for the primary domain's postmaster, however it is spelled", async () => {
    h.settings.primary_domain = "local.test";
    const c = await session();
    expect((await c.cmd("RCPT TO:<postmaster>")).lines[0]).toMatch(/^250 /);
    expect((await c.cmd("RCPT TO:<PostMaster>")).lines[0]).toMatch(/^250 /);
    expect((await c.cmd("RCPT TO:<postmaster@local.test>")).lines[0]).toMatch(/^250 /);
    expect((await c.cmd("DATA")).code).toBe(354);
    const id = queueIdOf(await c.cmd("Subject: to the postmaster\r\n\r\nhi\r\n."));
    await c.cmd("QUIT");
    c.end();
    expect((await queuedRecipients(tdb.storage, id)).map((r) => r.address)).toEqual(["postmaster@local.test"]);
  });

  it("the primary domain defaults to the host name or its parent domain when that is a local domain", () => {
    const local = (d: string) => d === "local.test";
    expect(primaryPostmaster({ primaryDomain: "", hostname: "mx1.local.test", isLocalDomain: local })).toBe("postmaster@local.test");
    expect(primaryPostmaster({ primaryDomain: "", hostname: "local.test", isLocalDomain: local })).toBe("postmaster@local.test");
    expect(primaryPostmaster({ primaryDomain: " Other.Test ", hostname: "mx1.local.test", isLocalDomain: local })).toBe("postmaster@other.test");
    expect(primaryPostmaster({ primaryDomain: "", hostname: "mx.test", isLocalDomain: local })).toBeNull();
  });

  it("without any primary domain it is refused with a reason the operator can act on", async () => {
    const c = await session();
    expect((await c.cmd("RCPT TO:<postmaster>")).lines[0]).toMatch(/^550 5\.1\.1 .*primary_domain/);
    c.end();
  });
});

describe("path length (RFC 5321 4.5.3.1.3: 256 octets including the brackets)", () => {
  it("a 254-octet address is accepted as sender and recipient; 255 octets is refused", async () => {
    h.settings.trusted_networks = "127.0.0.0/8";
    const ok = addressOf(254);
    const c = await session(`<${ok}>`);
    expect((await c.cmd(`RCPT TO:<${ok}>`)).lines[0]).toMatch(/^250 /);
    expect((await c.cmd("DATA")).code).toBe(354);
    const id = queueIdOf(await c.cmd("Subject: long\r\n\r\nhi\r\n."));
    expect((await queuedRecipients(tdb.storage, id)).map((r) => r.address)).toEqual([ok]);
    expect((await c.cmd(`MAIL FROM:<${addressOf(255)}>`)).code).toBeGreaterThanOrEqual(500);
    await c.cmd("RSET");
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    expect((await c.cmd(`RCPT TO:<${addressOf(255)}>`)).code).toBeGreaterThanOrEqual(500);
    c.end();
  });
});

describe("malformed UTF-8 (SMTPUTF8)", () => {
  it("MAIL FROM with invalid UTF-8 bytes gets 500 5.5.2 and nothing is stored; valid UTF-8 is accepted", async () => {
    const c = await opened(h.port);
    c.write(Buffer.concat([Buffer.from("MAIL FROM:<j"), Buffer.from([0xc3, 0x28]), Buffer.from("rg@elsewhere.test> SMTPUTF8\r\n")]));
    const bad = await c.reply();
    expect(bad.code).toBe(500);
    expect(bad.text).toMatch(/^5\.5\.2 /);
    expect((await c.cmd("MAIL FROM:<jörg@elsewhere.test> SMTPUTF8")).code).toBe(250);
    c.write(Buffer.concat([Buffer.from("RCPT TO:<adm"), Buffer.from([0xff]), Buffer.from("in@local.test>\r\n")]));
    expect((await c.reply()).code).toBe(500);
    expect((await c.cmd("RCPT TO:<admin@local.test>")).code).toBe(250);
    c.end();
  });
});
