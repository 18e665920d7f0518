import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { delivered } from "../../src/domain/outcome.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { type ClaimHoldOff, QueueWorker } from "../../src/queue/worker.ts";
import { systemClock, systemRandom } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

describe("the worker's hold-off (ingest first)", () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });

  afterAll(async () => {
    await tdb.drop();
  });

  it("claims nothing while held, nudges do not end the hold, and it is told what each claim took", async () => {
    const holdUntil = performance.now() + 300;
    const told: Array<[number, boolean]> = [];
    const holdOff: ClaimHoldOff = {
      holdMs: () => Math.max(0, Math.ceil(holdUntil - performance.now())),
      claimed: (count, more) => told.push([count, more]),
    };
    const handled: number[] = [];
    const worker = new QueueWorker({
      db: tdb.storage.db,
      member: "m1",
      includePool: () => false,
      clock: systemClock,
      random: systemRandom,
      logger: silentLogger,
      policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0.1, lifetimeSeconds: 86400 }),
      leaseMs: 60_000,
      pollIntervalMs: 20,
      batchSize: 2,
      concurrency: 1,
      holdOff,
      handler: (rcpts) => {
        handled.push(performance.now());
        return Promise.resolve(rcpts.map((r) => ({ recipientId: r.id, outcome: delivered(250, "2.0.0", "ok") })));
      },
    });
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: ["a", "b", "c"].map((l) => ({ address: `${l}@example.net` })) },
      content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
      submittedBy: "test",
      processor: "m1",
      now: new Date(),
    });
    worker.start();
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 30));
        worker.nudge();
      }
      expect(handled).toEqual([]);
      await until(async () => handled.length === 2, "both batches delivered", 5000, 10);
      expect(handled[0]).toBeGreaterThanOrEqual(holdUntil - 1);
      // Three recipients, two per claim: the first claim says more were ready, the second does not.
      expect(told.slice(0, 2)).toEqual([[2, true], [1, false]]);
    } finally {
      await worker.stop();
    }
  });
});
