import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { QueueWorker } from "../../src/queue/worker.ts";
import { systemClock, systemRandom } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

const RECIPIENTS = 5000;
const PER_MESSAGE = 5;
const WORKERS = 8;

describe("8 workers on separate connections", () => {
  let tdb: TestDatabase;
  const pools: Storage[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await tdb.storage.db.execute(sql`CREATE TABLE processed (recipient_id bigint NOT NULL, worker text NOT NULL)`);
    const now = new Date();
    const messages = Array.from({ length: RECIPIENTS / PER_MESSAGE }, (_, m) => m);
    // Ten submitters at a time: setup should not dominate the test's run time.
    for (let chunk = 0; chunk < messages.length; chunk += 10) {
      await Promise.all(messages.slice(chunk, chunk + 10).map((m) => submitMessage(tdb.storage.db, {
        envelope: { sender: "s@example.org", recipients: Array.from({ length: PER_MESSAGE }, (_, i) => ({ address: `r${m}-${i}@example.net` })) },
        content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
        submittedBy: "test",
        processor: null,
        now,
      })));
    }
  });

  afterAll(async () => {
    await tdb.drop();
  });

  it(`claim ${RECIPIENTS} recipients concurrently, each processed exactly once`, async () => {
    const workers: QueueWorker[] = [];
    for (let w = 0; w < WORKERS; w++) {
      const pool = tdb.open(2);
      pools.push(pool);
      const name = `worker-${w}`;
      const worker = new QueueWorker({
        db: pool.db,
        member: name,
        includePool: () => true,
        clock: systemClock,
        random: systemRandom,
        logger: silentLogger,
        policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0.1, lifetimeSeconds: 86400 }),
        leaseMs: 60_000,
        pollIntervalMs: 50,
        batchSize: 25,
        concurrency: 4,
        handler: async (rcpts) => {
          // Processing = a row per recipient in the database, so duplicates would show.
          await pool.db.execute(
            sql`INSERT INTO processed (recipient_id, worker) SELECT unnest(${`{${rcpts.map((r) => r.id).join(",")}}`}::bigint[]), ${name}`,
          );
          return rcpts.map((r) => ({ recipientId: r.id, outcome: { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } } }));
        },
      });
      workers.push(worker);
    }
    for (const w of workers) w.start();
    await until(async () => {
      const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM recipients WHERE state = 'delivered'`);
      return num(row.n) === RECIPIENTS;
    }, "all recipients delivered", 60_000, 100);
    await Promise.all(workers.map((w) => w.stop()));

    const [counts] = await queryRows(
      tdb.storage.db,
      sql`SELECT count(*)::int AS total, count(DISTINCT recipient_id)::int AS distinct_ids, count(DISTINCT worker)::int AS workers FROM processed`,
    );
    expect(num(counts.total)).toBe(RECIPIENTS);
    expect(num(counts.distinct_ids)).toBe(RECIPIENTS);
    // Work really was spread: more than one worker took part.
    expect(num(counts.workers)).toBeGreaterThan(1);
    const [msgs] = await queryRows(tdb.storage.db, sql`SELECT count(*) FILTER (WHERE done_at IS NULL)::int AS open, count(*)::int AS total FROM messages`);
    expect(num(msgs.open)).toBe(0);
    expect(num(msgs.total)).toBe(RECIPIENTS / PER_MESSAGE);
    const [att] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM attempts`);
    expect(num(att.n)).toBe(RECIPIENTS);
  });
});
