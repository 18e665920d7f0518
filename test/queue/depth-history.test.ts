import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { num, queryRows } from "../../src/db/rows.ts";
import { QUEUE_DEPTH_TICK_MS, QueueDepthSampler, queueDepthHistory, readStateDepth } from "../../src/queue/depth-history.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;
const T0 = new Date("2026-06-01T12:00:10Z");

class FakeClock {
  constructor(public t: number) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`DELETE FROM messages`);
  await tdb.storage.db.execute(sql`DELETE FROM queue_depth_samples`);
});

async function queue(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: [{ address: `r${i}@example.net` }] },
      content: new TextEncoder().encode("Subject: x\r\n\r\nbody"),
      submittedBy: "m1",
      processor: null,
      now: T0,
    });
  }
}

describe("queue depth sampler", () => {
  it("samples once per slot on the sampling member, and a second member's sample of the same slot is not stored", async () => {
    await queue(4);
    const ids = await queryRows(tdb.storage.db, sql`SELECT id FROM recipients ORDER BY id`);
    await tdb.storage.db.execute(sql`UPDATE recipients SET state = 'held' WHERE id = ${num(ids[0].id)}`);
    await tdb.storage.db.execute(sql`UPDATE recipients SET attempts = 2 WHERE id IN (${num(ids[1].id)}, ${num(ids[2].id)})`);
    expect(await readStateDepth(tdb.storage.db, T0)).toEqual({ queued: 1, deferred: 2, held: 1 });

    const clock = new FakeClock(T0.getTime());
    let leader = true;
    const a = new QueueDepthSampler({ db: tdb.storage.db, clock, member: "m1", isSampler: () => leader });
    const b = new QueueDepthSampler({ db: tdb.storage.db, clock, member: "m2", isSampler: () => true });
    expect(await a.tick()).toBe("sampled");
    expect(await b.tick()).toBe("taken");
    clock.advance(QUEUE_DEPTH_TICK_MS);
    expect(await a.tick()).toBe("same-slot");
    clock.advance(60_000);
    await tdb.storage.db.execute(sql`UPDATE recipients SET state = 'delivered' WHERE id = ${num(ids[3].id)}`);
    expect(await a.tick()).toBe("sampled");
    leader = false;
    clock.advance(60_000);
    expect(await a.tick()).toBe("not-sampler");

    const history = await queueDepthHistory(tdb.storage.db, new Date(T0.getTime() - 3600_000), clock.now());
    expect(history).toEqual([
      { at: new Date("2026-06-01T12:00:00Z"), queued: 1, deferred: 2, held: 1 },
      { at: new Date("2026-06-01T12:01:00Z"), queued: 0, deferred: 2, held: 1 },
    ]);
    const [by] = await queryRows(tdb.storage.db, sql`SELECT sampled_by FROM queue_depth_samples WHERE sampled_at = '2026-06-01T12:00:00Z'`);
    expect(by.sampled_by).toBe("m1");
  });

  it("prunes samples older than the retention when it samples", async () => {
    const clock = new FakeClock(T0.getTime());
    const s = new QueueDepthSampler({ db: tdb.storage.db, clock, member: "m1", isSampler: () => true, retentionSeconds: 3600 });
    for (let i = 0; i < 5; i++) {
      expect(await s.tick()).toBe("sampled");
      clock.advance(20 * 60_000);
    }
    // Slots 12:00, 12:20, 12:40, 13:00, 13:20; the last tick ran at 13:20:10 and kept the last hour.
    const all = await queueDepthHistory(tdb.storage.db, new Date(0), clock.now());
    expect(all.map((x) => x.at.toISOString().slice(11, 16))).toEqual(["12:40", "13:00", "13:20"]);
    expect(all.every((x) => x.queued === 0 && x.deferred === 0 && x.held === 0)).toBe(true);
  });
});
