import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import { date, num, queryRows, str } from "../../src/db/rows.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { isExpired, retryDelayMs, type RetryPolicy } from "../../src/queue/retry-schedule.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";

const policy: RetryPolicy = { initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 5 * 86400 };
const mid = { next: () => 0.5 };

describe("retry schedule", () => {
  it("starts at 5 minutes, doubles, caps at 4000 s", () => {
    const delays = [1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(policy, n, mid) / 1000);
    expect(delays).toEqual([300, 600, 1200, 2400, 4000, 4000, 4000]);
  });

  it("spreads by ±jitter and never beyond", () => {
    const jittery = { ...policy, jitter: 0.1 };
    expect(retryDelayMs(jittery, 1, { next: () => 0 })).toBe(270_000);
    expect(retryDelayMs(jittery, 1, { next: () => 0.999999 })).toBeCloseTo(330_000, -2);
    expect(retryDelayMs(jittery, 1, { next: () => 0.5 })).toBe(300_000);
  });

  it("expires at the queue lifetime", () => {
    const queued = new Date(Date.UTC(2026, 0, 1));
    expect(isExpired(policy, queued, new Date(queued.getTime() + 5 * 86400_000 - 1))).toBe(false);
    expect(isExpired(policy, queued, new Date(queued.getTime() + 5 * 86400_000))).toBe(true);
  });
});

describe("a recipient that never gets through, on a fake clock", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createPgliteDatabase();
  });
  afterAll(async () => {
    await storage.close();
  });

  it("is retried on the schedule for 5 days, then fails with 4.4.7", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const start = clock.now().getTime();
    const { messageId } = await submitMessage(storage.db, {
      envelope: { sender: "s@example.org", recipients: [{ address: "never@example.net" }] },
      content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
      submittedBy: "t",
      processor: null,
      now: clock.now(),
    });
    const attemptTimes: number[] = [];
    for (let i = 0; i < 500; i++) {
      const claimed = await claimRecipients(storage.db, { member: "m", includePool: true, limit: 1, leaseMs: 60_000, now: clock.now() });
      if (claimed.length === 0) {
        const [row] = await queryRows(storage.db, sql`SELECT state, next_attempt_at FROM recipients`);
        if (str(row.state) !== "queued") break;
        clock.set(date(row.next_attempt_at));
        continue;
      }
      attemptTimes.push((clock.now().getTime() - start) / 1000);
      await recordOutcomes(storage.db, {
        member: "m",
        now: clock.now(),
        policy,
        random: mid,
        results: [{ recipient: claimed[0], outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.4.1", text: "connection refused" } }, startedAt: clock.now(), durationMs: 1 }],
      });
    }
    // 0, 300, 900, 2100, 4500, then every 4000 s, and a last try exactly at the 5-day deadline.
    expect(attemptTimes.slice(0, 6)).toEqual([0, 300, 900, 2100, 4500, 8500]);
    expect(attemptTimes.at(-1)).toBe(5 * 86400);
    expect(attemptTimes).toHaveLength(5 + 106 + 1);
    const [r] = await queryRows(storage.db, sql`SELECT state, last_status, last_text, attempts FROM recipients`);
    expect(str(r.state)).toBe("failed");
    expect(str(r.last_status)).toBe("4.4.7");
    expect(str(r.last_text)).toMatch(/expired.*5 days.*connection refused/);
    expect(num(r.attempts)).toBe(112);
    const [m] = await queryRows(storage.db, sql`SELECT done_at FROM messages WHERE id = ${messageId}`);
    expect(m.done_at).not.toBeNull();
  });
});
