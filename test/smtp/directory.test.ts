import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { Directory } from "../../src/accounts/directory.ts";
import { resolveRecipient } from "../../src/accounts/lookup.ts";
import { addAccount, addAlias, addDomain } from "../../src/accounts/store.ts";
import { setAccountRules, setDomainRules } from "../../src/rules/store.ts";
import { openCountingStorage, type CountingStorage } from "../helpers/counting-storage.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";
import { opened, startHarness, type Harness } from "./harness.ts";

let tdb: TestDatabase;
let counting: CountingStorage;
let h: Harness;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addDomain(tdb.storage.db, "catch.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test", quotaBytes: 5000, homeMember: "be-1" });
  await addAccount(tdb.storage.db, { address: "off@local.test" });
  await addAccount(tdb.storage.db, { address: "postmaster@catch.test" });
  await addAlias(tdb.storage.db, "team@local.test", ["alice@local.test", "bob@elsewhere.test"]);
  await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = false WHERE address = 'off@local.test'`);
  await tdb.storage.db.execute(sql`UPDATE domains SET catch_all = 'postmaster@catch.test' WHERE name = 'catch.test'`);
  counting = openCountingStorage(tdb.url);
  h = await startHarness(counting);
});

afterAll(async () => {
  await h?.close();
  await counting?.close();
  await tdb?.drop();
});

/** The other connection: a change made there reaches this process only by NOTIFY or by poll. */
async function elsewhere(statement: ReturnType<typeof sql>): Promise<void> {
  const other = tdb.open(1);
  await other.db.execute(statement);
  await other.close();
}

describe("the directory", () => {
  it("answers as resolveRecipient does: accounts, aliases, disabled, unknown, catch-all, remote, any case", async () => {
    const d = await Directory.load(tdb.storage.db);
    const addresses = ["alice@local.test", "ALICE@Local.Test", "off@local.test", "team@local.test", "nobody@local.test", "anyone@catch.test", "x@elsewhere.test", "x@local.test."];
    for (const a of addresses) expect(d.resolve(a)).toEqual(await resolveRecipient(tdb.storage.db, a));
    expect(d.resolve("anyone@catch.test")).toMatchObject({ kind: "account", address: "postmaster@catch.test" });
    expect(d.isLocalDomain("LOCAL.test.")).toBe(true);
    expect(d.isLocalDomain("elsewhere.test")).toBe(false);
    expect(d.account("Alice@local.test")).toEqual({
      address: "alice@local.test",
      domain: "local.test",
      enabled: true,
      homeMember: "be-1",
      quotaBytes: 5000,
      rules: null,
      domainRules: null,
    });
    expect(d.account("team@local.test")).toBeNull();
  });

  it("carries account and domain rules as stored, and sees this process's rule changes at once", async () => {
    const d = await Directory.load(tdb.storage.db);
    await setDomainRules(tdb.storage.db, "local.test", { rules: [] });
    await setAccountRules(tdb.storage.db, "alice@local.test", { rules: [] });
    await d.whenFresh();
    expect(d.account("alice@local.test")?.rules).toEqual({ rules: [] });
    expect(d.account("alice@local.test")?.domainRules).toEqual({ rules: [] });
  });

  it("RCPT checks cost no query", async () => {
    const c = await opened(h.port);
    try {
      // Warm: the first answer after start may load the directory.
      expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
      await c.cmd("RSET");
      counting.statements.length = 0;
      expect((await c.cmd("MAIL FROM:<s@elsewhere.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<Team@local.test>")).code).toBe(250);
      expect((await c.cmd("RCPT TO:<nobody@local.test>")).lines[0]).toMatch(/^550 5\.1\.1 /);
      expect((await c.cmd("RCPT TO:<off@local.test>")).lines[0]).toMatch(/^550 5\.2\.1 /);
      expect((await c.cmd("RCPT TO:<who@catch.test>")).code).toBe(250);
      await c.cmd("RSET");
      expect(counting.statements).toEqual([]);
    } finally {
      c.end();
    }
  });

  it("picks up an account added by another connection through NOTIFY (no poll)", async () => {
    const d = new Directory(counting.db);
    await d.start({ listen: (ch, fn) => counting.listen(ch, fn), pollMs: 3_600_000 });
    try {
      expect(d.resolve("notified@local.test").kind).toBe("unknown");
      await elsewhere(sql`INSERT INTO accounts (address, domain) VALUES ('notified@local.test', 'local.test')`);
      await until(() => d.resolve("notified@local.test").kind === "account", "the NOTIFY to reload the directory", 5_000, 5);
    } finally {
      await d.stop();
    }
  });

  it("picks up a change by another connection through the version poll (no NOTIFY)", async () => {
    const d = new Directory(counting.db);
    await d.start({ pollMs: 20 });
    try {
      const v = d.version;
      await elsewhere(sql`INSERT INTO aliases (address, domain, targets) VALUES ('polled@local.test', 'local.test', 'alice@local.test')`);
      await elsewhere(sql`UPDATE accounts SET enabled = false WHERE address = 'alice@local.test'`);
      const disabled = () => d.account("alice@local.test")?.enabled === false;
      await until(() => d.resolve("polled@local.test").kind === "alias" && disabled(), "the poll to reload the directory", 5_000, 5);
      expect(d.version).toBeGreaterThan(v);
      expect(d.resolve("alice@local.test")).toMatchObject({ kind: "account", enabled: false });
    } finally {
      await d.stop();
      await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = true WHERE address = 'alice@local.test'`);
    }
  });

  it("resolveChecked looks again before answering unknown, even before any NOTIFY or poll", async () => {
    const d = await Directory.load(counting.db);
    await elsewhere(sql`INSERT INTO accounts (address, domain) VALUES ('fresh@local.test', 'local.test')`);
    expect(d.resolve("fresh@local.test").kind).toBe("unknown");
    expect(await d.resolveChecked("fresh@local.test")).toMatchObject({ kind: "account", address: "fresh@local.test" });
    counting.statements.length = 0;
    expect(await d.resolveChecked("alice@local.test")).toMatchObject({ kind: "account" });
    expect(counting.statements).toEqual([]);
  });

  it("an unchanged directory is not reloaded: a refresh is one version query", async () => {
    const d = await Directory.load(counting.db);
    counting.statements.length = 0;
    await d.refresh();
    expect(counting.statements).toHaveLength(1);
    expect(counting.statements[0]).toMatch(/SELECT version FROM directory_version/);
  });
});
