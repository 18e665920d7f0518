import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { BODY_PART_BYTES } from "../../src/queue/body.ts";
import { SubmitBatcher } from "../../src/queue/group-commit.ts";
import { SubmitError } from "../../src/queue/submit.ts";
import type { SubmitInput } from "../../src/queue/submit-input.ts";
import { openCountingStorage, type CountingStorage } from "../helpers/counting-storage.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

let tdb: TestDatabase;
let counting: CountingStorage;

beforeAll(async () => {
  tdb = await createTestDatabase();
  counting = openCountingStorage(tdb.url, 8);
});
afterAll(async () => {
  await counting?.close();
  await tdb?.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`DROP TRIGGER IF EXISTS refuse_bad ON recipients`);
  await tdb.storage.db.execute(sql`DELETE FROM messages`);
  counting.statements.length = 0;
});

function input(sender: string, recipients = ["a@example.net", "b@example.net"], body = `Subject: ${sender}\r\n\r\nx\r\n`): SubmitInput {
  return {
    envelope: { sender, recipients: recipients.map((address) => ({ address })) },
    content: new TextEncoder().encode(body),
    submittedBy: "fe",
    processor: "be",
    now: new Date(),
  };
}

const messageInserts = () => counting.statements.filter((q) => /INSERT INTO messages/.test(q)).length;

async function stored(): Promise<Array<{ sender: string; recipients: number; bodies: number; pending: number }>> {
  const rows = await queryRows(
    tdb.storage.db,
    sql`SELECT m.sender, m.pending_recipients,
               (SELECT count(*) FROM recipients r WHERE r.message_id = m.id)::int AS recipients,
               (SELECT count(*) FROM message_bodies b WHERE b.message_id = m.id)::int AS bodies
        FROM messages m ORDER BY m.sender`,
  );
  return rows.map((r) => ({ sender: str(r.sender), recipients: num(r.recipients), bodies: num(r.bodies), pending: num(r.pending_recipients) }));
}

describe("group commit", () => {
  it("many concurrent submissions are written by ONE statement, each caller gets its own ids", async () => {
    const batcher = new SubmitBatcher({ db: counting.db });
    const senders = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, "0")}@example.org`);
    const results = await Promise.all(senders.map((s, i) => batcher.submit(input(s, Array.from({ length: 1 + (i % 3) }, (_, k) => `r${k}@example.net`)))));
    expect(messageInserts()).toBe(1);
    expect(batcher.stats).toMatchObject({ flushes: 1, messages: 20, retriedAlone: 0 });
    expect(new Set(results.map((r) => r.messageId)).size).toBe(20);
    results.forEach((r, i) => expect(r.recipientIds).toHaveLength(1 + (i % 3)));
    // Each caller's ids are its own message's rows.
    for (const [i, r] of results.entries()) {
      const [row] = await queryRows(tdb.storage.db, sql`SELECT sender, (SELECT array_agg(id ORDER BY id) FROM recipients WHERE message_id = ${r.messageId}) AS ids FROM messages WHERE id = ${r.messageId}`);
      expect(str(row.sender)).toBe(senders[i]);
      expect((row.ids as unknown[]).map(num)).toEqual(r.recipientIds);
    }
    const all = await stored();
    expect(all).toHaveLength(20);
    for (const [i, m] of all.entries()) expect(m).toEqual({ sender: senders[i], recipients: 1 + (i % 3), bodies: 1, pending: 1 + (i % 3) });
  });

  it("a lone submission is written at once; caps split a burst into several statements", async () => {
    const batcher = new SubmitBatcher({ db: counting.db, maxMessages: 3 });
    await batcher.submit(input("alone@example.org"));
    expect(batcher.stats.flushes).toBe(1);
    await Promise.all(Array.from({ length: 7 }, (_, i) => batcher.submit(input(`b${i}@example.org`))));
    expect(batcher.stats.flushes).toBe(1 + 3);
    const bytes = new SubmitBatcher({ db: counting.db, maxBytes: 100 });
    await Promise.all(Array.from({ length: 4 }, (_, i) => bytes.submit(input(`c${i}@example.org`, ["a@example.net"], "x".repeat(60)))));
    expect(bytes.stats.flushes).toBe(4);
    expect(await stored()).toHaveLength(12);
  });

  it("a message larger than one body part goes through the multi-part path alone, the others batch", async () => {
    const batcher = new SubmitBatcher({ db: counting.db });
    const big = "x".repeat(BODY_PART_BYTES + 10);
    await Promise.all([batcher.submit(input("big@example.org", ["a@example.net"], big)), batcher.submit(input("s1@example.org")), batcher.submit(input("s2@example.org"))]);
    expect(batcher.stats).toMatchObject({ flushes: 1, messages: 2 });
    expect(await stored()).toEqual([
      { sender: "big@example.org", recipients: 1, bodies: 2, pending: 1 },
      { sender: "s1@example.org", recipients: 2, bodies: 1, pending: 2 },
      { sender: "s2@example.org", recipients: 2, bodies: 1, pending: 2 },
    ]);
  });

  it("a bad envelope is refused for its caller only, before anything is written", async () => {
    const batcher = new SubmitBatcher({ db: counting.db });
    const [bad, good] = await Promise.allSettled([batcher.submit(input("bad@example.org", ["no-domain"])), batcher.submit(input("good@example.org"))]);
    expect(bad.status === "rejected" && bad.reason instanceof SubmitError).toBe(true);
    expect(good.status).toBe("fulfilled");
    expect((await stored()).map((m) => m.sender)).toEqual(["good@example.org"]);
  });

  it("one message the database refuses (a constraint) fails alone: the rest of its batch is committed, nothing of it is", async () => {
    await tdb.storage.db.execute(sql.raw(`
      CREATE OR REPLACE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.address = 'refused@example.net' THEN RAISE EXCEPTION 'recipient refused (simulated constraint)' USING ERRCODE = '23514'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_bad BEFORE INSERT ON recipients FOR EACH ROW EXECUTE FUNCTION refuse_bad();`));
    const batcher = new SubmitBatcher({ db: counting.db });
    const outcomes = await Promise.allSettled([
      batcher.submit(input("ok1@example.org")),
      batcher.submit(input("bad@example.org", ["fine@example.net", "refused@example.net"])),
      batcher.submit(input("ok2@example.org")),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(batcher.stats).toMatchObject({ flushes: 1, retriedAlone: 3, messages: 2 });
    expect(await stored()).toEqual([
      { sender: "ok1@example.org", recipients: 2, bodies: 1, pending: 2 },
      { sender: "ok2@example.org", recipients: 2, bodies: 1, pending: 2 },
    ]);
  });

  it("a lost database fails every caller of the batch, retries nothing, and writes nothing", async () => {
    const dead = tdb.open(2);
    await dead.close();
    const batcher = new SubmitBatcher({ db: dead.db });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => batcher.submit(input(`d${i}@example.org`))));
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    expect(batcher.stats).toMatchObject({ flushes: 1, retriedAlone: 0, messages: 0 });
    expect(await stored()).toEqual([]);
  });

  it("wakes workers once per flush: one NOTIFY for other members' work, none when only this member's worker is to run", async () => {
    // A storage of its own: no wake-up of an earlier test can land in its statement log.
    const own = openCountingStorage(tdb.url, 2);
    try {
      const notifies = () => own.statements.filter((q) => /pg_notify/.test(q)).length;
      let nudged = 0;
      const batcher = new SubmitBatcher({ db: own.db, localWake: { member: "be", nudge: () => (nudged++, true) } });
      await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(input(`own${i}@example.org`))));
      expect(nudged).toBe(1);
      expect(notifies()).toBe(0);
      await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit({ ...input(`pool${i}@example.org`), processor: null })));
      await until(() => notifies() > 0, "the NOTIFY for pool work");
      expect(notifies()).toBe(1);
      expect(nudged).toBe(1);
      // No worker here after all: the nudge says so and the NOTIFY goes out instead.
      const workerless = new SubmitBatcher({ db: own.db, localWake: { member: "be", nudge: () => false } });
      await workerless.submit(input("fallback@example.org"));
      await until(() => notifies() > 1, "the NOTIFY when no local worker runs");
      expect(batcher.stats.flushes + workerless.stats.flushes).toBe(3);
    } finally {
      await own.close();
    }
  });
});
