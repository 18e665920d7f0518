import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAccountLeases } from "../../src/cluster/account-leases.ts";
import { queryRows, num, str } from "../../src/db/rows.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { channelEnvelope, count, createAccounts, deliverOnce, rawMessage, startBackend, submit, type TestBackend } from "../helpers/backends.ts";

const settings = { member_timeout_seconds: 30, account_lease_seconds: 60, account_idle_seconds: 3600 };

describe("backend failure (real PostgreSQL, ManualClock)", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  const running: TestBackend[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    for (const b of running) await b.stop().catch(() => {});
    await tdb.drop();
  });

  const start = async (name: string) => {
    const b = await startBackend(tdb.storage, name, clock, { settings });
    running.push(b);
    return b;
  };

  it("a killed backend's accounts are taken over after lease expiry: nothing lost, nothing duplicated", async () => {
    const accounts = await createAccounts(tdb.storage, 20, null, "dyn");
    const b1 = await start("b1");
    const b2 = await start("b2");
    for (const a of accounts) await submit(b1.ctx, [a], rawMessage(`first ${a}`));
    const first = await deliverOnce(b1.ctx);
    expect(first.filter((o) => o.kind !== "delivered")).toEqual([]);
    const leases = await readAccountLeases(tdb.storage.db, accounts);
    const onB2 = leases.filter((l) => l.member === "b2").map((l) => l.account);
    expect(onB2.length).toBeGreaterThan(0);
    expect(leases.filter((l) => l.member === "b1").length).toBeGreaterThan(0);

    // In flight on b2 when it dies: half of these were stored there, but the reply never reached the queue.
    const inFlight: number[] = [];
    for (const a of onB2) inFlight.push(await submit(b1.ctx, [a], rawMessage(`second ${a}`)));
    const delivery = b2.component.delivery;
    if (!delivery) throw new Error("b2 has no delivery service");
    for (let i = 0; i < onB2.length; i += 2) {
      const content = rawMessage(`second ${onB2[i]}`);
      const answers = await delivery.deliver(channelEnvelope(inFlight[i], [onB2[i]], content), content);
      expect(answers[0].status).toBe("stored");
    }
    await b2.kill();

    // Lease still running: the sender cannot reach the owner and defers; nothing is written elsewhere.
    const whileHeld = await deliverOnce(b1.ctx);
    expect(whileHeld).toHaveLength(onB2.length);
    expect(whileHeld.every((o) => o.kind === "deferred")).toBe(true);

    clock.advance(61_000);
    await b1.heartbeat();
    const after = await deliverOnce(b1.ctx);
    expect(after.filter((o) => o.kind !== "delivered")).toEqual([]);
    expect(after).toHaveLength(onB2.length);

    // Exactly one copy of every message in every account.
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM recipients WHERE state <> 'delivered'`)).toBe(0);
    const perAccount = await queryRows(tdb.storage.db, sql`SELECT account, count(*)::int AS n FROM mailbox_messages WHERE account LIKE 'dyn%' GROUP BY account`);
    for (const row of perAccount) expect(num(row.n)).toBe(onB2.includes(str(row.account)) ? 2 : 1);
    expect(perAccount).toHaveLength(accounts.length);
    // b1 took the accounts over under a higher epoch; no epoch had two writers.
    const moved = await readAccountLeases(tdb.storage.db, onB2);
    expect(moved.every((l) => l.member === "b1" && l.epoch >= 2)).toBe(true);
    const shared = await queryRows(tdb.storage.db, sql`SELECT account FROM mailbox_messages GROUP BY account, stored_epoch HAVING count(DISTINCT stored_by) > 1`);
    expect(shared).toEqual([]);
  });

  it("static account: home backend dead → deferred; delivered once it is back", async () => {
    const [account] = await createAccounts(tdb.storage, 1, "home-b3", "static");
    const queue = running.find((b) => b.name === "b1");
    if (!queue) throw new Error("b1 should still run");
    await submit(queue.ctx, [account], rawMessage("to a static account"));
    const down = await deliverOnce(queue.ctx);
    expect(down).toEqual([expect.objectContaining({ kind: "deferred", reply: expect.objectContaining({ code: 451, enhanced: "4.4.1" }) as object })]);
    expect(down[0].reply.text).toContain("home backend home-b3");
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${account}`)).toBe(0);

    await start("home-b3");
    clock.advance(61_000);
    await queue.heartbeat();
    await running.find((b) => b.name === "home-b3")?.heartbeat();
    const up = await deliverOnce(queue.ctx);
    expect(up).toEqual([expect.objectContaining({ kind: "delivered" })]);
    const rows = await queryRows(tdb.storage.db, sql`SELECT stored_by, stored_epoch FROM mailbox_messages WHERE account = ${account}`);
    expect(rows.map((r) => [r.stored_by, num(r.stored_epoch)])).toEqual([["home-b3", 0]]);
    // Static accounts never take a lease.
    expect(await readAccountLeases(tdb.storage.db, [account])).toEqual([]);
  });
});
