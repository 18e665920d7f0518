import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { applyQueueAction, type QueueAction, type QueueTarget } from "../../src/queue/admin.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { type DeliveryHandler, QueueWorker } from "../../src/queue/worker.ts";
import { systemClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

const MESSAGES = 300;
const DOMAINS = ["d0.test", "d1.test", "d2.test", "d3.test", "d4.test"];

/** A seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

/** Every message's counters agree with its recipients; no message is left empty. */
async function assertConsistent(db: Storage["db"]): Promise<void> {
  const wrong = await queryRows(
    db,
    sql`SELECT m.id, m.pending_recipients, m.done_at,
               count(r.id) FILTER (WHERE r.state IN ('queued', 'held'))::int AS open,
               count(r.id)::int AS total
        FROM messages m LEFT JOIN recipients r ON r.message_id = m.id
        GROUP BY m.id
        HAVING m.pending_recipients <> count(r.id) FILTER (WHERE r.state IN ('queued', 'held'))
            OR (m.done_at IS NULL) <> (m.pending_recipients > 0)
            OR count(r.id) = 0`,
  );
  expect(wrong).toEqual([]);
}

describe("queue operations while workers deliver (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  const pools: Storage[] = [];
  let deferSome = true;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const content = new TextEncoder().encode("Subject: c\r\n\r\nc\r\n");
    for (let m = 0; m < MESSAGES; m++) {
      await submitMessage(tdb.storage.db, {
        envelope: { sender: "s@origin.test", recipients: [0, 1, 2].map((i) => ({ address: `r${m}-${i}@${DOMAINS[(m + i) % DOMAINS.length]}` })) },
        content,
        submittedBy: "t",
        processor: null,
        now: new Date(),
      });
    }
  });
  afterAll(async () => {
    await tdb.drop();
  });

  function startWorkers(n: number): QueueWorker[] {
    const random = seeded(7);
    const handler: DeliveryHandler = async (rs) => {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
      return rs.map((r) => ({
        recipientId: r.id,
        outcome:
          deferSome && random() < 0.2
            ? { kind: "deferred" as const, reply: { code: 451, enhanced: "4.4.1", text: "try later" } }
            : { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } },
      }));
    };
    return Array.from({ length: n }, (_, i) => {
      const pool = tdb.open(3);
      pools.push(pool);
      const w = new QueueWorker({
        db: pool.db,
        member: `w${i}`,
        includePool: () => true,
        handler,
        clock: systemClock,
        random: { next: () => 0.5 },
        logger: silentLogger,
        policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 }),
        // A batch whose outcomes could not be recorded is claimable again a second later (worker.ts), well within the drain.
        leaseMs: 30_000,
        pollIntervalMs: 20,
        batchSize: 20,
        concurrency: 4,
      });
      w.start();
      return w;
    });
  }

  it("hold/release/retry/bounce/delete by domain and by id keep every message's counters right", async () => {
    const workers = startWorkers(3);
    const admin = tdb.open(2);
    const random = seeded(42);
    const actions: QueueAction[] = ["hold", "release", "retry", "hold", "release", "bounce", "delete"];
    const ops: Promise<unknown>[] = [];
    const deadline = Date.now() + 2500;
    // On a loaded CI machine fewer operations finish in 2.5 s: go on (up to 30 s) until enough have.
    const hardDeadline = Date.now() + 30_000;
    let done = 0;
    while (Date.now() < deadline || (done <= 20 && Date.now() < hardDeadline)) {
      const action = actions[Math.floor(random() * actions.length)];
      const target: QueueTarget =
        random() < 0.5 ? { domain: DOMAINS[Math.floor(random() * DOMAINS.length)] } : { messageId: 1 + Math.floor(random() * MESSAGES) };
      // Two operators at once, next to the workers; a message deleted earlier is a 404, nothing more.
      ops.push(applyQueueAction(admin.db, action, target, new Date()).then(() => done++, (err: unknown) => {
        if (!(err instanceof Error && /no queue message/.test(err.message))) throw err;
      }));
      if (ops.length % 2 === 0) await Promise.all(ops.splice(0));
    }
    await Promise.all(ops);
    await Promise.all(workers.map((w) => w.stop()));
    expect(done).toBeGreaterThan(20);
    await assertConsistent(tdb.storage.db);

    // Drain: release and retry everything, deliver the rest.
    deferSome = false;
    for (const domain of DOMAINS) {
      await applyQueueAction(tdb.storage.db, "release", { domain }, new Date());
      await applyQueueAction(tdb.storage.db, "retry", { domain }, new Date());
    }
    const drainers = startWorkers(2);
    await until(async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM recipients WHERE state IN ('queued', 'held')`))[0].n) === 0, "queue drained");
    await Promise.all(drainers.map((w) => w.stop()));
    await assertConsistent(tdb.storage.db);
    const open = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM messages WHERE done_at IS NULL`);
    expect(num(open[0].n)).toBe(0);
    for (const p of [admin, ...pools]) await p.close();
  });
});
