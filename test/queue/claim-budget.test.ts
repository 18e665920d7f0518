import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimBatch } from "../../src/queue/claim.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

const KIB = 1024;

describe("a claim's byte budget", () => {
  let tdb: TestDatabase;
  const t0 = new Date("2026-12-01T00:00:00Z");

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });

  afterAll(async () => {
    await tdb.drop();
  });

  async function submit(bytes: number, recipients: number, at: Date): Promise<number> {
    const body = new TextEncoder().encode(`Subject: x\r\n\r\n${"y".repeat(bytes - 15)}\r\n`);
    const r = await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: Array.from({ length: recipients }, (_, i) => ({ address: `r${i}@example.net` })) },
      content: body,
      submittedBy: "test",
      processor: "m1",
      now: at,
    });
    return r.messageId;
  }

  it("takes recipients oldest first until the next would pass the budget, and says more are ready", async () => {
    const a = await submit(10 * KIB, 1, t0);
    const b = await submit(10 * KIB, 2, new Date(t0.getTime() + 1000));
    const c = await submit(10 * KIB, 1, new Date(t0.getTime() + 2000));
    const claim = (now: Date) => claimBatch(tdb.storage.db, { member: "m1", includePool: false, limit: 100, maxBytes: 35 * KIB, leaseMs: 60_000, now });
    const later = new Date(t0.getTime() + 10_000);
    // Each recipient counts its message: a (10), b (10 + 10) fit in 35 KiB; c would make 40.
    const first = await claim(later);
    expect(first.recipients.map((r) => r.messageId)).toEqual([a, b, b]);
    expect(first.more).toBe(true);
    const second = await claim(later);
    expect(second.recipients.map((r) => r.messageId)).toEqual([c]);
    expect(second.more).toBe(false);
    const third = await claim(later);
    expect(third).toEqual({ recipients: [], more: false });
  });

  it("a message bigger than the budget is still taken, alone", async () => {
    const big = await submit(64 * KIB, 1, new Date(t0.getTime() + 20_000));
    const small = await submit(1 * KIB, 1, new Date(t0.getTime() + 21_000));
    const later = new Date(t0.getTime() + 30_000);
    const first = await claimBatch(tdb.storage.db, { member: "m1", includePool: false, limit: 100, maxBytes: 16 * KIB, leaseMs: 60_000, now: later });
    expect(first.recipients.map((r) => r.messageId)).toEqual([big]);
    expect(first.more).toBe(true);
    const second = await claimBatch(tdb.storage.db, { member: "m1", includePool: false, limit: 100, maxBytes: 16 * KIB, leaseMs: 60_000, now: later });
    expect(second.recipients.map((r) => r.messageId)).toEqual([small]);
  });

  it("a claim cut by its limit says more are ready; without a budget the limit alone counts", async () => {
    for (let i = 0; i < 3; i++) await submit(KIB, 1, new Date(t0.getTime() + 40_000 + i));
    const later = new Date(t0.getTime() + 50_000);
    const first = await claimBatch(tdb.storage.db, { member: "m1", includePool: false, limit: 2, leaseMs: 60_000, now: later });
    expect(first.recipients).toHaveLength(2);
    expect(first.more).toBe(true);
    const second = await claimBatch(tdb.storage.db, { member: "m1", includePool: false, limit: 2, leaseMs: 60_000, now: later });
    expect(second.recipients).toHaveLength(1);
    expect(second.more).toBe(false);
  });
});
