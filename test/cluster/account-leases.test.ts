import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireAccountLease, readAccountLeases, releaseAccountLeases, rendezvousOwner } from "../../src/cluster/account-leases.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { createAccounts } from "../helpers/backends.ts";

describe("account leases (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  const leaseMs = 60_000;
  let accounts: string[];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    accounts = await createAccounts(tdb.storage, 4);
  });
  afterAll(async () => {
    await tdb.drop();
  });

  const acquire = (account: string, member: string) => acquireAccountLease(tdb.storage.db, { account, member, now: clock.now(), leaseMs });

  it("first taker gets epoch 1; renewal keeps the epoch; another member is told the owner", async () => {
    const a = accounts[0];
    expect(await acquire(a, "b1")).toMatchObject({ kind: "held", epoch: 1 });
    clock.advance(10_000);
    const renewed = await acquire(a, "b1");
    expect(renewed).toMatchObject({ kind: "held", epoch: 1 });
    expect(renewed.leaseUntil.getTime()).toBe(clock.now().getTime() + leaseMs);
    expect(await acquire(a, "b2")).toMatchObject({ kind: "taken", owner: "b1", epoch: 1 });
  });

  it("an expired lease is taken over under a higher epoch, and not a moment before", async () => {
    const a = accounts[1];
    await acquire(a, "b1");
    clock.advance(leaseMs - 1);
    expect(await acquire(a, "b2")).toMatchObject({ kind: "taken", owner: "b1" });
    clock.advance(1);
    expect(await acquire(a, "b2")).toMatchObject({ kind: "held", epoch: 2 });
    expect(await acquire(a, "b1")).toMatchObject({ kind: "taken", owner: "b2", epoch: 2 });
  });

  it("release expires the lease but keeps the row, so the next owner's epoch still grows", async () => {
    const a = accounts[2];
    const held = await acquire(a, "b1");
    if (held.kind !== "held") throw new Error("expected to hold");
    expect(await releaseAccountLeases(tdb.storage.db, "b2", [{ account: a, epoch: held.epoch }], clock.now())).toBe(0);
    expect(await releaseAccountLeases(tdb.storage.db, "b1", [{ account: a, epoch: held.epoch }], clock.now())).toBe(1);
    expect(await acquire(a, "b2")).toMatchObject({ kind: "held", epoch: held.epoch + 1 });
    const [row] = await readAccountLeases(tdb.storage.db, [a]);
    expect(row).toMatchObject({ member: "b2", epoch: held.epoch + 1 });
  });

  it("members racing for one account on separate connections: exactly one wins per round", async () => {
    const a = accounts[3];
    const pools = [tdb.open(2), tdb.open(2), tdb.open(2), tdb.open(2)];
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(pools.map((p, i) => acquireAccountLease(p.db, { account: a, member: `m${i}`, now: clock.now(), leaseMs })));
      const winners = results.filter((r) => r.kind === "held");
      expect(winners).toHaveLength(1);
      const [row] = await readAccountLeases(tdb.storage.db, [a]);
      expect(row.epoch).toBe(round + 1);
      clock.advance(leaseMs);
    }
  });

  it("rendezvous hashing is stable and moves only the accounts of a backend that leaves", () => {
    const names = Array.from({ length: 200 }, (_, i) => `acct${i}@x.test`);
    const three = ["b1", "b2", "b3"];
    const before = names.map((n) => rendezvousOwner(n, three));
    expect(names.map((n) => rendezvousOwner(n, [...three].reverse()))).toEqual(before);
    for (const b of three) expect(before.filter((x) => x === b).length).toBeGreaterThan(30);
    const after = names.map((n) => rendezvousOwner(n, ["b1", "b3"]));
    names.forEach((_, i) => {
      if (before[i] !== "b2") expect(after[i]).toBe(before[i]);
    });
    expect(rendezvousOwner("a@x.test", [])).toBeNull();
  });
});
