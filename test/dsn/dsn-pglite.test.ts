import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { runDelayDsnPass, runFailureDsnPass } from "../../src/dsn/generate.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { policyFromSettings } from "../../src/queue/retry-schedule.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";
import { testContext } from "../relay/context.ts";

/** The embedded default (no DATABASE_URL) runs on PGlite: the DSN passes must work there too. */
describe("DSN passes on PGlite", () => {
  let storage: Storage;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));

  beforeAll(async () => {
    storage = await createPgliteDatabase();
  });
  afterAll(async () => {
    await storage.close();
  });

  it("bounces a failed recipient once and sends a delay notice once", async () => {
    const ctx = testContext(storage, clock, { settings: { delay_dsn_after_seconds: 3600 } });
    await submitMessage(storage.db, {
      envelope: { sender: "alice@origin.test", recipients: [{ address: "gone@dest.test" }, { address: "slow@dest.test" }] },
      content: Buffer.from("Subject: pglite\r\n\r\nhi\r\n"),
      submittedBy: ctx.config.memberName,
      processor: ctx.config.memberName,
      now: clock.now(),
    });
    const claimed = await claimRecipients(storage.db, { member: ctx.config.memberName, includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
    const reply = (code: number, enhanced: string, text: string) => ({ code, enhanced, text });
    await recordOutcomes(storage.db, {
      member: ctx.config.memberName,
      now: clock.now(),
      policy: policyFromSettings(ctx.settings()),
      random: ctx.random,
      results: claimed.map((r) => ({
        recipient: r,
        outcome: r.address.startsWith("gone") ? { kind: "failed" as const, reply: reply(550, "5.1.1", "no") } : { kind: "deferred" as const, reply: reply(451, "4.4.1", "later") },
        startedAt: clock.now(),
        durationMs: 1,
      })),
    });
    // Not done yet (one recipient still queued): no failure DSN; after an hour, one delay notice.
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });
    clock.advance(3600_000);
    expect(await runDelayDsnPass(ctx)).toEqual({ checked: 1, sent: 1, dropped: 0 });
    expect(await runDelayDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });
    // The slow one fails for good too: now the message is done and the failure DSN goes.
    const again = await claimRecipients(storage.db, { member: ctx.config.memberName, includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
    const slow = again.filter((r) => r.address.startsWith("slow"));
    expect(slow).toHaveLength(1);
    const summary = await recordOutcomes(storage.db, {
      member: ctx.config.memberName,
      now: clock.now(),
      policy: policyFromSettings(ctx.settings()),
      random: ctx.random,
      results: slow.map((r) => ({ recipient: r, outcome: { kind: "failed" as const, reply: reply(550, "5.7.1", "refused") }, startedAt: clock.now(), durationMs: 1 })),
    });
    expect(await runFailureDsnPass(ctx, { messageIds: summary.doneMessageIds })).toEqual({ checked: 1, sent: 1, dropped: 0 });
    expect(await runFailureDsnPass(ctx)).toEqual({ checked: 0, sent: 0, dropped: 0 });
    const dsns = await queryRows(storage.db, sql`SELECT m.sender, r.address FROM messages m JOIN recipients r ON r.message_id = m.id WHERE m.kind = 'dsn' ORDER BY m.id`);
    expect(dsns.map((d) => [str(d.sender), str(d.address)])).toEqual([
      ["", "alice@origin.test"],
      ["", "alice@origin.test"],
    ]);
    const [n] = await queryRows(storage.db, sql`SELECT count(*)::int AS n FROM recipients WHERE delay_notified_at IS NOT NULL`);
    expect(num(n.n)).toBe(1);
  });
});
