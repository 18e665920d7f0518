import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/db.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { QueueWorker, RECLAIM_AFTER_RECORD_FAILURE_MS, type DeliveryHandler } from "../../src/queue/worker.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

/** A logger that keeps the warnings it is given. */
function warnings() {
  const lines: Array<{ msg: string; lost?: number[] }> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { logger, lines };
}

const delivered: DeliveryHandler = async (rs) => rs.map((r) => ({ recipientId: r.id, outcome: { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } } }));

// "leases lost while in flight" must mean another member took the work, not that we recorded it.
describe("in-flight lease renewal", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(Date.UTC(2026, 3, 1));

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  const submit = (n: number) =>
    submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: Array.from({ length: n }, (_, i) => ({ address: `r${i}@example.net` })) },
      content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
      submittedBy: "solo",
      processor: null,
      now: clock.now(),
    });

  const worker = (logger: ReturnType<typeof warnings>["logger"], handler: DeliveryHandler, onRecorded?: () => Promise<void>, db: Db = tdb.storage.db) =>
    new QueueWorker({
      db,
      member: "solo",
      includePool: () => true,
      handler,
      clock,
      random: { next: () => 0.5 },
      logger,
      policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 }),
      leaseMs: 60_000,
      pollIntervalMs: 10,
      batchSize: 50,
      concurrency: 2,
      onRecorded,
    });

  it("a single member renewing while its recorded batch runs the DSN pass warns of nothing", async () => {
    const { logger, lines } = warnings();
    await submit(30);
    let renewed = 0;
    let w: QueueWorker | null = null;
    w = worker(logger, delivered, async () => {
      // The DSN pass: the batch's outcomes are recorded, the renewal timer fires meanwhile.
      await w?.renewLeases();
      renewed += 1;
    });
    w.start();
    try {
      await until(() => renewed > 0, "batch recorded and a renewal ran during onRecorded");
    } finally {
      await w.stop();
    }
    expect(lines.filter((l) => l.msg.includes("leases lost"))).toEqual([]);
    expect(w.inFlightCount).toBe(0);
  });

  it("a recipient another member really took is still reported", async () => {
    const { logger, lines } = warnings();
    const { recipientIds } = await submit(2);
    let w: QueueWorker | null = null;
    let done = false;
    w = worker(logger, async (rs, recorder) => {
      // While this delivery runs, another member takes the first recipient (its lease "expired").
      await tdb.storage.db.execute(sql`UPDATE recipients SET locked_by = 'thief' WHERE id = ${recipientIds[0]}`);
      await w?.renewLeases();
      done = true;
      return delivered(rs, recorder);
    });
    w.start();
    try {
      await until(() => done, "delivery ran");
    } finally {
      await w.stop();
    }
    const lost = lines.filter((l) => l.msg.includes("leases lost"));
    expect(lost).toHaveLength(1);
    expect(lost[0].lost).toEqual([recipientIds[0]]);
  });

  it("a batch whose outcomes cannot be recorded is claimable again a moment later, not after its whole lease", async () => {
    const { logger, lines } = warnings();
    const { recipientIds } = await submit(3);
    // The worker's database fails the next statement once armed: the handler arms it, so the
    // statement that fails is the one recording the batch's outcomes.
    let failNext = false;
    const db = new Proxy(tdb.storage.db, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== "execute" || typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (failNext) {
            failNext = false;
            return Promise.reject(new Error("connection lost while recording"));
          }
          return Reflect.apply(value, target, args) as unknown;
        };
      },
    });
    let delivered1 = 0;
    const w = worker(
      logger,
      async (rs, recorder) => {
        delivered1 += rs.length;
        failNext = true;
        return delivered(rs, recorder);
      },
      undefined,
      db,
    );
    w.start();
    try {
      await until(() => lines.some((l) => l.msg.includes("could not record outcomes")), "the recording failed");
    } finally {
      await w.stop();
    }
    expect(delivered1).toBe(3);
    const rows = await queryRows(tdb.storage.db, sql`SELECT state, attempts, locked_by, locked_until FROM recipients WHERE id = ANY(${`{${recipientIds.join(",")}}`}::bigint[])`);
    expect(rows.map((r) => [r.state, num(r.attempts)])).toEqual([["queued", 0], ["queued", 0], ["queued", 0]]);
    // Not the 60 s lease: a second from the failure.
    for (const r of rows) expect(new Date(String(r.locked_until)).getTime()).toBeLessThanOrEqual(clock.now().getTime() + RECLAIM_AFTER_RECORD_FAILURE_MS);
    const params = { member: "other", includePool: true, limit: 10, leaseMs: 60_000 };
    expect(await claimRecipients(tdb.storage.db, { ...params, now: clock.now() })).toEqual([]);
    clock.advance(RECLAIM_AFTER_RECORD_FAILURE_MS + 1);
    const again = await claimRecipients(tdb.storage.db, { ...params, now: clock.now() });
    expect(again.map((r) => r.id).sort((a, b) => a - b)).toEqual([...recipientIds].sort((a, b) => a - b));
  });
});
