import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { afterRecord } from "../../src/after-record.ts";
import type { AppContext } from "../../src/app-context.ts";
import { loadConfig } from "../../src/config.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { deferred, delivered, failed } from "../../src/domain/outcome.ts";
import type { DeliveryOutcome } from "../../src/domain/types.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { policyFromSettings } from "../../src/queue/retry-schedule.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { testAppContext } from "../helpers/app-context.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;
let ctx: AppContext;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`DELETE FROM messages`);
  const config = loadConfig({ MEMBER_NAME: "after-record", MAILCLUSTER_HOSTNAME: "mta.after-record.test" });
  ctx = testAppContext(tdb.storage, { config, clock: new ManualClock(new Date(Date.UTC(2026, 5, 1, 12))) });
});

/** One queue pass by hand: claim, answer each recipient by `answer`, record, then the member's after-record step. */
async function pass(answer: (address: string) => DeliveryOutcome) {
  const claimed = await claimRecipients(ctx.db, { member: ctx.config.memberName, includePool: true, limit: 100, leaseMs: 60_000, now: ctx.clock.now() });
  const results = claimed.map((r) => ({ recipient: r, outcome: answer(r.address), startedAt: ctx.clock.now(), durationMs: 1 }));
  const summary = await recordOutcomes(ctx.db, { member: ctx.config.memberName, results, now: ctx.clock.now(), policy: policyFromSettings(ctx.settings()), random: ctx.random });
  await afterRecord(ctx, summary, results, claimed);
  return summary;
}

async function submit(recipients: string[]) {
  return submitMessage(ctx.db, {
    envelope: { sender: "alice@origin.test", recipients: recipients.map((address) => ({ address })) },
    content: new TextEncoder().encode("From: alice@origin.test\r\nSubject: after record\r\n\r\nhi\r\n"),
    submittedBy: ctx.config.memberName,
    processor: ctx.config.memberName,
    now: ctx.clock.now(),
  });
}

const dsns = async () =>
  (await queryRows(ctx.db, sql`SELECT m.sender, r.address FROM messages m JOIN recipients r ON r.message_id = m.id WHERE m.kind = 'dsn'`)).map((r) => [str(r.sender), str(r.address)]);

describe("the step after a recorded batch (src/after-record.ts)", () => {
  it("counts the attempts, reports the message that left the queue and queues its failure DSN right away", async () => {
    const { messageId } = await submit(["ok@far.test", "gone@far.test"]);
    const summary = await pass((a) => (a.startsWith("gone") ? failed(550, "5.1.1", "no such user") : delivered(250, "2.0.0", "ok")));
    expect(summary.doneMessageIds).toEqual([messageId]);
    expect(ctx.metrics.value("mailcluster_delivery_attempts_total", { result: "delivered" })).toBe(1);
    expect(ctx.metrics.value("mailcluster_delivery_attempts_total", { result: "failed" })).toBe(1);
    expect(ctx.metrics.value("mailcluster_messages_done_total", { rule_invocations: "0" })).toBe(1);
    expect(await dsns()).toEqual([["", "alice@origin.test"]]);
  });

  it("sends nothing while a recipient is still queued: no delay notice here, that is the DSN timer's", async () => {
    await submit(["slow@far.test", "gone@far.test"]);
    const summary = await pass((a) => (a.startsWith("gone") ? failed(550, "5.1.1", "no such user") : deferred(451, "4.4.1", "try later")));
    expect(summary.doneMessageIds).toEqual([]);
    expect(ctx.metrics.value("mailcluster_delivery_attempts_total", { result: "deferred" })).toBe(1);
    expect(ctx.metrics.value("mailcluster_messages_done_total", { rule_invocations: "0" })).toBe(0);
    expect(await dsns()).toEqual([]);
  });
});
