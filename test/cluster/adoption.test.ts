import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { adoptOrphanedMessages, releaseDeadLeases, returnToPool } from "../../src/cluster/adoption.ts";
import { deregisterMember, heartbeatMember, registerMember } from "../../src/cluster/members.ts";
import type { SubmitMode } from "../../src/domain/types.ts";
import type { Db } from "../../src/db/db.ts";
import { num, queryRows, str, strOrNull } from "../../src/db/rows.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { renewRecipientLeases } from "../../src/queue/lease.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

const TIMEOUT = 30;
const LEASE = 60;
const body = new TextEncoder().encode("Subject: x\r\n\r\nx\r\n");

describe("adoption of a dead member's work (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  let db: Db;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));

  const register = (name: string, submitMode: SubmitMode = "locally-for-others") =>
    registerMember(db, { name, roles: ["frontend", "backend"], smtpEndpoint: null, httpUrl: null, submitMode, hostname: null, pid: null, version: null }, clock.now());
  const submit = (processor: string | null, rcpts = ["a@x.test"]) =>
    submitMessage(db, {
      envelope: { sender: "s@example.org", recipients: rcpts.map((address) => ({ address })) },
      content: body,
      submittedBy: processor ?? "remote-member",
      processor,
      now: clock.now(),
    });
  const processorOf = async (id: number) => strOrNull((await queryRows(db, sql`SELECT processor FROM messages WHERE id = ${id}`))[0].processor);
  /** Time passes and only `alive` beat: the others fall past the member timeout. */
  const onlyBeat = async (alive: string[], seconds = TIMEOUT + 1) => {
    clock.advance(seconds * 1000);
    for (const name of alive) expect(await heartbeatMember(db, name, clock.now())).toBe(true);
  };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = tdb.storage.db;
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    await db.execute(sql`TRUNCATE messages, recipients, attempts, members RESTART IDENTITY CASCADE`);
  });

  it("adopts only unfinished messages of a member past the member timeout, and releases its leases", async () => {
    await register("live");
    await register("dead");
    const pending = await submit("dead", ["a@x.test", "b@x.test"]);
    const doneOne = await submit("dead");
    await db.execute(sql`UPDATE messages SET done_at = now(), pending_recipients = 0 WHERE id = ${doneOne.messageId}`);
    await db.execute(sql`UPDATE recipients SET state = 'delivered' WHERE message_id = ${doneOne.messageId}`);
    const liveOwn = await submit("live");
    const pool = await submit(null);
    // The dead member had claimed its work before dying: a lease longer than the member timeout.
    const claimed = await claimRecipients(db, { member: "dead", includePool: false, limit: 10, leaseMs: LEASE * 1000, now: clock.now() });
    expect(claimed).toHaveLength(2);

    // Not yet dead: nothing moves.
    await onlyBeat(["live"], TIMEOUT - 1);
    expect(await adoptOrphanedMessages(db, { member: "live", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 })).toEqual({ adopted: 0, from: {} });

    await onlyBeat(["live"], 2);
    const r = await adoptOrphanedMessages(db, { member: "live", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 });
    expect(r).toEqual({ adopted: 1, from: { dead: 1 } });
    expect(await processorOf(pending.messageId)).toBe("live");
    expect(await processorOf(doneOne.messageId)).toBe("dead");
    expect(await processorOf(liveOwn.messageId)).toBe("live");
    expect(await processorOf(pool.messageId)).toBeNull();

    // The adopter can claim the recipients right away, although the dead lease had not run out.
    const taken = await claimRecipients(db, { member: "live", includePool: false, limit: 10, leaseMs: 60_000, now: clock.now() });
    expect(taken.map((c) => c.address).sort()).toEqual(["a@x.test", "b@x.test", "a@x.test"].sort());

    // Adopting again finds nothing: exactly once.
    expect((await adoptOrphanedMessages(db, { member: "live", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 })).adopted).toBe(0);
  });

  it("a member that misses heartbeats but still renews its leases keeps its in-flight work: no second delivery", async () => {
    await register("live");
    await register("slow");
    const m = await submit("slow");
    const [r] = await claimRecipients(db, { member: "slow", includePool: false, limit: 10, leaseMs: LEASE * 1000, now: clock.now() });
    await onlyBeat(["live"]);
    // Its worker renewed the lease a moment ago (every lease/3), though its heartbeat stalled.
    expect(await renewRecipientLeases(db, { member: "slow", ids: [r.id], now: clock.now(), leaseMs: LEASE * 1000 })).toEqual([r.id]);
    expect((await adoptOrphanedMessages(db, { member: "live", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 })).adopted).toBe(1);
    expect(await releaseDeadLeases(db, { now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE })).toBe(0);
    expect(await claimRecipients(db, { member: "live", includePool: false, limit: 10, leaseMs: 60_000, now: clock.now() })).toHaveLength(0);
    const policy = { initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 };
    const delivered = { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } };
    const summary = await recordOutcomes(db, { member: "slow", results: [{ recipient: r, outcome: delivered, startedAt: clock.now(), durationMs: 1 }], now: clock.now(), policy, random: { next: () => 0.5 } });
    expect(summary.recorded.map((x) => x.id)).toEqual([r.id]);
    expect(summary.doneMessageIds).toEqual([m.messageId]);
  });

  it("a dead member that comes back claims nothing of what was adopted", async () => {
    await register("a");
    await register("b");
    const m = await submit("b");
    await onlyBeat(["a"]);
    expect((await adoptOrphanedMessages(db, { member: "a", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 })).adopted).toBe(1);
    await register("b");
    const back = await claimRecipients(db, { member: "b", includePool: false, limit: 10, leaseMs: 60_000, now: clock.now() });
    expect(back).toHaveLength(0);
    // And b, alive again, is no source for adoption by anyone.
    expect((await adoptOrphanedMessages(db, { member: "b", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 })).adopted).toBe(0);
    expect(await processorOf(m.messageId)).toBe("a");
  });

  it("a member whose row is gone (graceful stop) is dead at once", async () => {
    await register("a");
    await register("gone");
    const m = await submit("gone");
    await deregisterMember(db, "gone");
    const r = await adoptOrphanedMessages(db, { member: "a", now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 100 });
    expect(r).toEqual({ adopted: 1, from: { gone: 1 } });
    expect(await processorOf(m.messageId)).toBe("a");
  });

  it("concurrent adopters on separate connections adopt each message exactly once", async () => {
    const N = 600;
    const ADOPTERS = 4;
    for (let i = 0; i < ADOPTERS; i++) await register(`adopter-${i}`);
    await register("dead-1");
    await register("dead-2");
    const values = Array.from({ length: N }, (_, i) => sql`('s@example.org', 10, ${i % 2 === 0 ? "dead-1" : "dead-2"}, ${i % 2 === 0 ? "dead-1" : "dead-2"}, 1, now())`);
    await db.execute(
      sql`INSERT INTO messages (sender, size_bytes, submitted_by, processor, pending_recipients, created_at) VALUES ${sql.join(values, sql`, `)}`,
    );
    await onlyBeat(Array.from({ length: ADOPTERS }, (_, i) => `adopter-${i}`));

    const pools = Array.from({ length: ADOPTERS }, () => tdb.open(2));
    // Small batches and repeated passes, so the adopters really interleave on the same rows.
    const results = await Promise.all(
      pools.map(async (pool, i) => {
        let total = 0;
        for (;;) {
          const r = await adoptOrphanedMessages(pool.db, { member: `adopter-${i}`, now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE, limit: 25 });
          total += r.adopted;
          if (r.adopted === 0) return total;
        }
      }),
    );
    expect(results.reduce((a, b) => a + b, 0)).toBe(N);
    const rows = await queryRows(db, sql`SELECT processor, count(*)::int AS n FROM messages GROUP BY processor ORDER BY processor`);
    for (const row of rows) expect(str(row.processor)).toMatch(/^adopter-\d$/);
    const perAdopter = new Map(rows.map((row) => [str(row.processor), num(row.n)]));
    for (let i = 0; i < ADOPTERS; i++) expect(perAdopter.get(`adopter-${i}`) ?? 0).toBe(results[i]);
  });

  it("releases pool leases held by a dead member, and no live member's", async () => {
    await register("a");
    await register("dead");
    await submit(null, ["p1@x.test"]);
    await submit(null, ["p2@x.test"]);
    await claimRecipients(db, { member: "dead", includePool: true, limit: 1, leaseMs: LEASE * 1000, now: clock.now() });
    await claimRecipients(db, { member: "a", includePool: true, limit: 1, leaseMs: LEASE * 1000, now: clock.now() });
    await onlyBeat(["a"]);
    expect(await releaseDeadLeases(db, { now: clock.now(), timeoutSeconds: TIMEOUT, leaseSeconds: LEASE })).toBe(1);
    const rows = await queryRows(db, sql`SELECT locked_by FROM recipients WHERE locked_by IS NOT NULL`);
    expect(rows.map((r) => r.locked_by)).toEqual(["a"]);
  });

  it("returnToPool hands back a member's idle unfinished messages, not those in flight", async () => {
    await register("r", "remotely");
    const idle = await submit("r");
    const busy = await submit("r", ["busy@x.test"]);
    await db.execute(sql`UPDATE recipients SET next_attempt_at = now() + interval '1 day' WHERE message_id = ${idle.messageId}`);
    const taken = await claimRecipients(db, { member: "r", includePool: false, limit: 10, leaseMs: 60_000, now: clock.now() });
    expect(taken.map((c) => c.address)).toEqual(["busy@x.test"]);
    expect(await returnToPool(db, { member: "r", now: clock.now() })).toBe(1);
    expect(await processorOf(idle.messageId)).toBeNull();
    expect(await processorOf(busy.messageId)).toBe("r");
  });
});
