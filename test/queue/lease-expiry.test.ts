import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { QueueWorker } from "../../src/queue/worker.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

describe("a worker that claims and disappears", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  const LEASE_MS = 60_000;

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("its items are not reclaimed before the lease expires, and are after", async () => {
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: [{ address: "a@example.net" }, { address: "b@example.net" }] },
      content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
      submittedBy: "ghost",
      processor: null,
      now: clock.now(),
    });
    // The ghost claims on its own connection, then its process "dies": it never renews or answers.
    const ghost = tdb.open(1);
    const taken = await claimRecipients(ghost.db, { member: "ghost", includePool: true, limit: 10, leaseMs: LEASE_MS, now: clock.now() });
    expect(taken).toHaveLength(2);
    await ghost.close();

    const handled: number[] = [];
    const worker = new QueueWorker({
      db: tdb.storage.db,
      member: "survivor",
      includePool: () => true,
      clock,
      random: { next: () => 0.5 },
      logger: silentLogger,
      policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 }),
      leaseMs: LEASE_MS,
      pollIntervalMs: 10,
      batchSize: 10,
      concurrency: 2,
      handler: async (rcpts) => {
        handled.push(...rcpts.map((r) => r.id));
        return rcpts.map((r) => ({ recipientId: r.id, outcome: { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } } }));
      },
    });
    worker.start();
    try {
      // Many poll rounds at 59 s past the claim: the lease still holds.
      clock.advance(LEASE_MS - 1000);
      await new Promise((r) => setTimeout(r, 300));
      expect(handled).toEqual([]);
      clock.advance(2000);
      worker.nudge();
      await until(() => handled.length === 2, "survivor takes over the expired items");
    } finally {
      await worker.stop();
    }
    const rows = await queryRows(tdb.storage.db, sql`SELECT state, attempts FROM recipients ORDER BY id`);
    expect(rows.map((r) => [str(r.state), num(r.attempts)])).toEqual([["delivered", 1], ["delivered", 1]]);
    const att = await queryRows(tdb.storage.db, sql`SELECT DISTINCT member FROM attempts`);
    expect(att.map((r) => str(r.member))).toEqual(["survivor"]);
  });

  it("a graceful stop releases what is in flight: claimable at once, no attempt spent", async () => {
    const { recipientIds } = await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@example.org", recipients: [{ address: "slow@example.net" }] },
      content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
      submittedBy: "t",
      processor: null,
      now: clock.now(),
    });
    let release: () => void = () => {};
    const blocked = new Promise<void>((r) => (release = r));
    let started = false;
    const worker = new QueueWorker({
      db: tdb.storage.db,
      member: "stopper",
      includePool: () => true,
      clock,
      random: { next: () => 0.5 },
      logger: silentLogger,
      policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 }),
      leaseMs: LEASE_MS,
      pollIntervalMs: 10,
      batchSize: 10,
      concurrency: 1,
      handler: async (rcpts) => {
        started = true;
        await blocked;
        return rcpts.map((r) => ({ recipientId: r.id, outcome: { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } } }));
      },
    });
    worker.start();
    await until(() => started, "delivery started");
    await worker.stop(50);
    release();
    const [row] = await queryRows(tdb.storage.db, sql`SELECT locked_by, attempts, state FROM recipients WHERE id = ${recipientIds[0]}`);
    expect(row.locked_by).toBeNull();
    expect(num(row.attempts)).toBe(0);
    expect(str(row.state)).toBe("queued");
    const again = await claimRecipients(tdb.storage.db, { member: "next", includePool: true, limit: 10, leaseMs: LEASE_MS, now: clock.now() });
    expect(again.map((r) => r.id)).toEqual(recipientIds);
  });
});
