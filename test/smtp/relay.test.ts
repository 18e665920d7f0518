import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { addAccount, addDomain, removeAccount } from "../../src/accounts/store.ts";
import { ClusterView } from "../../src/cluster/cluster-view.ts";
import { listMembers, registerMember } from "../../src/cluster/members.ts";
import { queryRows, ts } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, opened, queueCounts, queueIdOf, queuedRecipients, RawClient, startHarness, type Harness } from "./harness.ts";

let tdb: TestDatabase;
let h: Harness;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test" });
  await addAccount(tdb.storage.db, { address: "off@local.test" });
  await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = false WHERE address = 'off@local.test'`);
  h = await startHarness(tdb.storage, { trusted_networks: "" });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  h.settings.trusted_networks = "";
  await tdb.storage.db.execute(sql`DELETE FROM members`);
  await clearQueue(tdb.storage);
});

/** RCPT replies (first line) for a list of recipients in one transaction; the transaction is then reset. */
async function rcpts(addresses: string[], from = "s@elsewhere.test"): Promise<string[]> {
  const c = await opened(h.port);
  try {
    expect((await c.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
    const out: string[] = [];
    for (const a of addresses) out.push((await c.cmd(`RCPT TO:${a}`)).lines[0]);
    await c.cmd("QUIT");
    return out;
  } finally {
    c.end();
  }
}

describe("local recipients", () => {
  it("unknown local user → 550 5.1.1, disabled account → 550 5.2.1, mixed case finds the account", async () => {
    const r = await rcpts(["<nobody@local.test>", "<off@local.test>", "<ALICE@Local.TEST>", "<alice@LOCAL.test>"]);
    expect(r[0]).toMatch(/^550 5\.1\.1 /);
    expect(r[1]).toMatch(/^550 5\.2\.1 /);
    expect(r[2]).toMatch(/^250 /);
    expect(r[3]).toMatch(/^250 /);
  });
});

describe("the directory", () => {
  it("an account this process adds is accepted at once, one it removes refused at once", async () => {
    expect((await rcpts(["<carol@local.test>"]))[0]).toMatch(/^550 5\.1\.1 /);
    await addAccount(tdb.storage.db, { address: "carol@local.test" });
    expect((await rcpts(["<carol@local.test>"]))[0]).toMatch(/^250 /);
    await removeAccount(tdb.storage.db, "carol@local.test");
    expect((await rcpts(["<carol@local.test>"]))[0]).toMatch(/^550 5\.1\.1 /);
  });
});

describe("no open relay", () => {
  it("denies remote recipients to an unauthenticated, untrusted client with 554 5.7.1", async () => {
    const r = await rcpts(["<user@elsewhere.test>", "<user@ElseWhere.TEST>"]);
    expect(r[0]).toMatch(/^554 5\.7\.1 relaying denied/);
    expect(r[1]).toMatch(/^554 5\.7\.1 /);
  });

  it("percent hack: user%remote@local is a (nonexistent) local user, never relayed", async () => {
    const r = await rcpts(["<user%elsewhere.test@local.test>", "<alice%elsewhere.test@local.test>", "<user%local.test@elsewhere.test>"]);
    expect(r[0]).toMatch(/^550 5\.1\.1 /);
    expect(r[1]).toMatch(/^550 5\.1\.1 /);
    expect(r[2]).toMatch(/^554 5\.7\.1 /);
  });

  it("source routes are ignored (RFC 5321 4.1.1.3): the final address decides", async () => {
    const r = await rcpts(["<@local.test,@local.test:user@elsewhere.test>", "<@elsewhere.test:alice@local.test>"]);
    expect(r[0]).toMatch(/^554 5\.7\.1 relaying denied for <user@elsewhere\.test>/);
    expect(r[1]).toMatch(/^250 /);
  });

  it("quoted local parts with @, IP literals, trailing dots and double @ are refused", async () => {
    const r = await rcpts([
      '<"user@elsewhere.test"@local.test>',
      "<user@[127.0.0.1]>",
      "<user@[IPv6:::1]>",
      "<alice@local.test.>",
      "<user@elsewhere.test.>",
      "<user@local.test@elsewhere.test>",
      "<user@-bad-.test>",
    ]);
    expect(r[0]).toMatch(/^501 5\.1\.3 /);
    expect(r[1]).toMatch(/^554 5\.7\.1 /);
    expect(r[2]).toMatch(/^(554 5\.7\.1|501 5\.1\.3) /);
    expect(r[3]).toMatch(/^501 5\.1\.3 /);
    expect(r[4]).toMatch(/^501 5\.1\.3 /);
    expect(r[5]).toMatch(/^501 5\.1\.3 /);
    expect(r[6]).toMatch(/^(501|553) 5\.1\.3 /);
  });

  it("a denied recipient does not travel with the accepted ones", async () => {
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<s@elsewhere.test>");
    expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
    expect((await c.cmd("RCPT TO:<victim@elsewhere.test>")).code).toBe(554);
    expect((await c.cmd("DATA")).code).toBe(354);
    const id = queueIdOf(await c.cmd("Subject: x\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    expect((await queuedRecipients(tdb.storage, id)).map((r) => r.address)).toEqual(["alice@local.test"]);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });
});

describe("who may relay", () => {
  it("clients in trusted_networks", async () => {
    h.settings.trusted_networks = "10.0.0.0/8, not-a-cidr";
    expect((await rcpts(["<user@elsewhere.test>"]))[0]).toMatch(/^554 5\.7\.1 /);
    h.settings.trusted_networks = "10.0.0.0/8, 127.0.0.0/8";
    expect((await rcpts(["<user@elsewhere.test>", "<user@[192.0.2.1]>"]))).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^250 /)]);
  });

  it("a live member's IP address relays only with relay_trust_member_addresses on, and never a dead member's", async () => {
    const now = h.clock.now();
    const info = { name: "be-1", roles: ["backend" as const], smtpEndpoint: null, httpUrl: "http://127.0.0.1:8025", submitMode: "locally" as const, hostname: "be", pid: 1, version: null };
    await registerMember(tdb.storage.db, info, now);
    // The frontend knows who is alive from its heartbeat's ClusterView, not from a query of its own.
    const view = new ClusterView("fe-test", "locally");
    h.ctx.cluster = view;
    const heartbeat = async () => view.update(await listMembers(tdb.storage.db, h.clock.now(), h.settings.member_timeout_seconds));
    await heartbeat();
    try {
      // Off by default: an address proves nothing on shared hosts; members authenticate instead.
      expect((await rcpts(["<user@elsewhere.test>"]))[0]).toMatch(/^554 5\.7\.1 /);
      h.settings.relay_trust_member_addresses = true;
      expect((await rcpts(["<user@elsewhere.test>"]))[0]).toMatch(/^250 /);
      // The member stops heartbeating: once the view says it is dead, relaying stops.
      await tdb.storage.db.execute(sql`UPDATE members SET heartbeat_at = ${ts(new Date(now.getTime() - 3600_000))}`);
      await heartbeat();
      expect((await rcpts(["<user@elsewhere.test>"]))[0]).toMatch(/^554 5\.7\.1 /);
    } finally {
      h.settings.relay_trust_member_addresses = false;
      h.ctx.cluster = undefined;
    }
  });

  it("behind a load balancer (PROXY protocol) the client's own address decides, and is recorded", async () => {
    h.settings.smtp_proxy_protocol_from = "127.0.0.1";
    h.settings.trusted_networks = "192.0.2.0/24";
    try {
      const viaProxy = async (client: string) => {
        const c = await RawClient.connect(h.port);
        c.write(`PROXY TCP4 ${client} 127.0.0.1 40000 25\r\n`);
        expect((await c.reply()).code).toBe(220);
        expect((await c.cmd("EHLO client.test")).code).toBe(250);
        await c.cmd("MAIL FROM:<app@elsewhere.test>");
        return c;
      };
      const denied = await viaProxy("198.51.100.7");
      expect((await denied.cmd("RCPT TO:<user@elsewhere.test>")).lines[0]).toMatch(/^554 5\.7\.1 /);
      denied.end();
      const trusted = await viaProxy("192.0.2.5");
      expect((await trusted.cmd("RCPT TO:<user@elsewhere.test>")).code).toBe(250);
      await trusted.cmd("DATA");
      const id = queueIdOf(await trusted.cmd("Subject: lb\r\n\r\nx\r\n."));
      await trusted.cmd("QUIT");
      const [row] = await queryRows(tdb.storage.db, sql`SELECT client_address FROM messages WHERE id = ${id}`);
      expect(row.client_address).toBe("192.0.2.5");
    } finally {
      h.settings.smtp_proxy_protocol_from = "";
    }
  });

  it("a whole relayed message from a trusted network is enqueued for the remote domain", async () => {
    h.settings.trusted_networks = "127.0.0.1";
    const c = await opened(h.port);
    await c.cmd("MAIL FROM:<app@local.test>");
    expect((await c.cmd("RCPT TO:<Someone@Elsewhere.TEST>")).code).toBe(250);
    await c.cmd("DATA");
    const id = queueIdOf(await c.cmd("Subject: out\r\n\r\nx\r\n."));
    await c.cmd("QUIT");
    expect((await queuedRecipients(tdb.storage, id)).map((r) => r.address)).toEqual(["Someone@elsewhere.test"]);
  });
});
