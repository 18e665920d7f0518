import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { delivered } from "../../src/domain/outcome.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import type { ClaimedRecipient } from "../../src/domain/delivery.ts";
import { type ClaimHoldOff, QueueWorker, type WorkerOptions } from "../../src/queue/worker.ts";
import { systemClock, systemRandom } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

const policy = () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0.1, lifetimeSeconds: 86400 });
const content = new TextEncoder().encode("Subject: x\r\n\r\nx\r\n");

type Knobs = Pick<WorkerOptions, "member" | "pollIntervalMs" | "batchSize" | "concurrency"> & Partial<Pick<WorkerOptions, "holdOff" | "gatherMs" | "gatherMaxMs">>;

/** A worker on `db` whose handler delivers every recipient of a batch and tells `seen` of the batch. */
function deliveringWorker(db: WorkerOptions["db"], knobs: Knobs, seen: (batch: readonly ClaimedRecipient[]) => void): QueueWorker {
  return new QueueWorker({
    db,
    includePool: () => false,
    clock: systemClock,
    random: systemRandom,
    logger: silentLogger,
    policy,
    leaseMs: 60_000,
    ...knobs,
    handler: (rcpts) => {
      seen(rcpts);
      return Promise.resolve(rcpts.map((r) => ({ recipientId: r.id, outcome: delivered(250, "2.0.0", "ok") })));
    },
  });
}

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
      claiming: () => {},
      claimed: (count, more) => told.push([count, more]),
    };
    const handled: number[] = [];
    const worker = deliveringWorker(tdb.storage.db, { member: "m1", pollIntervalMs: 20, batchSize: 2, concurrency: 1, holdOff }, () => handled.push(performance.now()));
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: ["a", "b", "c"].map((l) => ({ address: `${l}@example.net` })) },
      content,
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

  it("gathers again while work keeps being announced, up to gatherMaxMs; a lone message waits one gatherMs", async () => {
    const handled: Array<{ at: number; messageId: number }> = [];
    const worker = deliveringWorker(tdb.storage.db, { member: "m2", pollIntervalMs: 60_000, batchSize: 50, concurrency: 2, gatherMs: 20, gatherMaxMs: 400 }, (rcpts) => {
      for (const r of rcpts) handled.push({ at: performance.now(), messageId: r.messageId });
    });
    const submit = async () => (await submitMessage(tdb.storage.db, { envelope: { sender: "s@example.org", recipients: [{ address: "x@example.net" }] }, content, submittedBy: "test", processor: "m2", now: new Date() })).messageId;
    worker.start();
    try {
      // Idle: the first claim found nothing; the worker sleeps until nudged.
      await new Promise((r) => setTimeout(r, 50));
      const lone = await submit();
      const t0 = performance.now();
      worker.nudge();
      await until(() => handled.some((h) => h.messageId === lone), "the lone message delivered", 5000, 5);
      expect(handled.find((h) => h.messageId === lone)!.at - t0).toBeLessThan(300);

      // A stream: announced every 10 ms for longer than gatherMaxMs.
      const first = await submit();
      const s0 = performance.now();
      worker.nudge();
      const ticker = setInterval(() => worker.nudge(), 10);
      try {
        await new Promise((r) => setTimeout(r, 200));
        expect(handled.some((h) => h.messageId === first)).toBe(false);
        await until(() => handled.some((h) => h.messageId === first), "delivered by gatherMaxMs", 5000, 5);
      } finally {
        clearInterval(ticker);
      }
      const waited = handled.find((h) => h.messageId === first)!.at - s0;
      expect(waited).toBeGreaterThanOrEqual(380);
      expect(waited).toBeLessThan(2000);
    } finally {
      await worker.stop();
    }
  });
});
