import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_CHANNEL } from "../../src/queue/channel.ts";
import { wakeWorkers, WorkerWakeUp } from "../../src/queue/wake-up.ts";
import { openCountingStorage, type CountingStorage } from "../helpers/counting-storage.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

let tdb: TestDatabase;
let counting: CountingStorage;

beforeAll(async () => {
  tdb = await createTestDatabase();
  counting = openCountingStorage(tdb.url, 4);
});
afterAll(async () => {
  await counting?.close();
  await tdb?.drop();
});

const notifies = () => counting.statements.filter((q) => /pg_notify/.test(q)).length;

describe("waking the queue workers", () => {
  it("a WorkerWakeUp coalesces: a burst while one NOTIFY is in flight costs one follow-up, for everyone when the burst named several processors", async () => {
    counting.statements.length = 0;
    const got: string[] = [];
    const unlisten = await counting.listen(QUEUE_CHANNEL, (p) => got.push(p));
    try {
      const wakeUp = new WorkerWakeUp(counting.db);
      wakeUp.wake("p-first");
      for (let i = 0; i < 20; i++) wakeUp.wake(`p${i}`);
      await until(() => got.length >= 2, "the follow-up NOTIFY");
      expect(notifies()).toBe(2);
      expect(got).toEqual(["p-first", ""]);
    } finally {
      await unlisten();
    }
  });

  it("a follow-up for one processor alone keeps its name", async () => {
    counting.statements.length = 0;
    const got: string[] = [];
    const unlisten = await counting.listen(QUEUE_CHANNEL, (p) => got.push(p));
    try {
      const wakeUp = new WorkerWakeUp(counting.db);
      wakeUp.wake("q-first");
      for (let i = 0; i < 5; i++) wakeUp.wake("q-be1");
      await until(() => got.includes("q-be1"), "the follow-up NOTIFY");
      expect(got.filter((p) => p.startsWith("q"))).toEqual(["q-first", "q-be1"]);
    } finally {
      await unlisten();
    }
  });

  it("two WorkerWakeUps keep their own state (one per member, none shared through the database handle)", async () => {
    counting.statements.length = 0;
    const a = new WorkerWakeUp(counting.db);
    const b = new WorkerWakeUp(counting.db);
    a.wake("a");
    b.wake("b");
    await until(() => notifies() === 2, "one NOTIFY from each");
  });

  it("in the caller's transaction (it says so) the NOTIFY is delivered at its COMMIT, and never after a rollback", async () => {
    const got: string[] = [];
    // Only this test's payloads: a NOTIFY of the tests before may still be on its way.
    const mine = () => got.filter((p) => p === "in-tx" || p === "rolled-back");
    const unlisten = await counting.listen(QUEUE_CHANNEL, (p) => got.push(p));
    try {
      await expect(
        counting.db.transaction(async (tx) => {
          await wakeWorkers(tx, "rolled-back", { inTransaction: true });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      await counting.db.transaction(async (tx) => {
        await wakeWorkers(tx, "in-tx", { inTransaction: true });
        expect(mine()).toEqual([]);
      });
      await until(() => got.includes("in-tx"), "the NOTIFY after COMMIT");
      expect(mine()).toEqual(["in-tx"]);
    } finally {
      await unlisten();
    }
  });

  it("without a WorkerWakeUp, one NOTIFY now; with one, through it", async () => {
    counting.statements.length = 0;
    await wakeWorkers(counting.db, "");
    expect(notifies()).toBe(1);
    const wakeUp = new WorkerWakeUp(counting.db);
    await wakeWorkers(counting.db, "x", { wakeUp });
    await until(() => notifies() === 2, "the coalesced NOTIFY");
  });
});

describe("who a wake-up concerns", () => {
  it("a processor's own work wakes it; pool work only workers that take the pool; \"\" everyone", async () => {
    const { POOL_PAYLOAD, payloadFor, wakeConcerns } = await import("../../src/queue/channel.ts");
    expect(payloadFor("be1")).toBe("be1");
    expect(payloadFor(null)).toBe(POOL_PAYLOAD);
    expect(wakeConcerns("be1", "be1", false)).toBe(true);
    expect(wakeConcerns("be2", "be1", true)).toBe(false);
    expect(wakeConcerns(POOL_PAYLOAD, "fe1", false)).toBe(false);
    expect(wakeConcerns(POOL_PAYLOAD, "be1", true)).toBe(true);
    expect(wakeConcerns("", "fe1", false)).toBe(true);
  });
});
