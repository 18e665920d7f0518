import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportDoneMessages } from "../../src/cluster/rule-invocations.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { TestMember, testSettings } from "./harness.ts";

describe("reporting rule invocations of messages that leave the queue", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("counts messages by rule invocations and flags double processing", async () => {
    const m = new TestMember("fe1", "locally-for-others", tdb.storage, new ManualClock(), testSettings, []);
    const ids: number[] = [];
    for (const n of [1, 2, 0]) {
      const r = await submitMessage(tdb.storage.db, {
        envelope: { sender: "s@example.org", recipients: [{ address: "a@x.test" }] },
        content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
        submittedBy: "fe1",
        processor: "fe1",
        ruleInvocations: n,
        kind: n === 0 ? "generated" : "normal",
        now: new Date(),
      });
      ids.push(r.messageId);
    }
    await tdb.storage.db.execute(sql`UPDATE messages SET done_at = now(), pending_recipients = 0`);
    const done = await reportDoneMessages(m.ctx, ids);
    expect(done.map((d) => [d.id, d.ruleInvocations, d.kind])).toEqual([
      [ids[0], 1, "normal"],
      [ids[1], 2, "normal"],
      [ids[2], 0, "generated"],
    ]);
    const metrics = m.ctx.metrics;
    expect(metrics.value("mailcluster_messages_done_total", { rule_invocations: "1" })).toBe(1);
    expect(metrics.value("mailcluster_messages_done_total", { rule_invocations: "2" })).toBe(1);
    expect(metrics.value("mailcluster_messages_done_total", { rule_invocations: "0" })).toBe(1);
    expect(metrics.value("mailcluster_done_message_rule_invocations_total")).toBe(3);
    expect(metrics.value("mailcluster_messages_processed_twice_total")).toBe(1);
    expect(await reportDoneMessages(m.ctx, [])).toEqual([]);
  });
});
