import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deregisterMember, setMemberSubmitMode } from "../../src/cluster/members.ts";
import { chooseProcessor } from "../../src/cluster/processor.ts";
import type { SubmitMode } from "../../src/domain/types.ts";
import { num, queryRows, strOrNull } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";
import { type Delivered, TestMember, testSettings } from "./harness.ts";

const body = new TextEncoder().encode("Subject: x\r\n\r\nx\r\n");

describe("submit modes with in-process members (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  let clock: ManualClock;
  let delivered: Delivered[];
  let members: TestMember[];

  const member = async (name: string, mode: SubmitMode) => {
    const m = new TestMember(name, mode, tdb.open(3), clock, testSettings, delivered);
    members.push(m);
    await m.join();
    return m;
  };
  /** Submit as `m` would: the processor from chooseProcessor, like the SMTP frontend does. */
  const submitFrom = async (m: TestMember, address = "x@remote.test") => {
    const processor = await chooseProcessor(m.ctx);
    const r = await submitMessage(m.ctx.db, {
      envelope: { sender: "s@example.org", recipients: [{ address }] },
      content: body,
      submittedBy: m.name,
      processor,
      now: clock.now(),
    });
    return { ...r, processor };
  };
  /** Time passes; only `alive` beat (and so refresh their view). */
  const beatOnly = async (alive: TestMember[], seconds: number) => {
    clock.advance(seconds * 1000);
    for (const m of alive) await m.membership.beat();
  };
  const deliveredBy = (messageId: number) => delivered.filter((d) => d.messageId === messageId).map((d) => d.member);

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`TRUNCATE messages, recipients, attempts, members RESTART IDENTITY CASCADE`);
    clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
    delivered = [];
    members = [];
  });
  afterEach(async () => {
    for (const m of members) await m.stop();
  });

  it("locally processes its own; remotely hands to the pool, which a locally-for-others member serves", async () => {
    const fe = await member("fe1", "locally-for-others");
    const loc = await member("be1", "locally");
    const rem = await member("be2", "remotely");
    // The views were refreshed before be2 existed for fe1 and be1: beat once so all see all.
    await beatOnly([fe, loc, rem], 1);

    const own = await submitFrom(loc);
    const pooled = await submitFrom(rem);
    expect(own.processor).toBe("be1");
    expect(pooled.processor).toBeNull();
    expect(rem.ctx.metrics.value("mailcluster_submit_fallback_total")).toBe(0);

    for (const m of [fe, loc, rem]) m.worker.start();
    await until(() => delivered.length === 2, "both messages delivered");
    expect(deliveredBy(own.messageId)).toEqual(["be1"]);
    expect(deliveredBy(pooled.messageId)).toEqual(["fe1"]);
  });

  it("a mode change in the members table takes effect with the next heartbeat, without restart", async () => {
    await member("fe1", "locally-for-others");
    const be = await member("be1", "locally");
    expect(await chooseProcessor(be.ctx)).toBe("be1");

    expect(await setMemberSubmitMode(tdb.storage.db, "be1", "remotely")).toBe(true);
    // Not before the heartbeat...
    expect(await chooseProcessor(be.ctx)).toBe("be1");
    await be.membership.beat();
    expect(be.view.submitMode).toBe("remotely");
    expect(await chooseProcessor(be.ctx)).toBeNull();

    await setMemberSubmitMode(tdb.storage.db, "be1", "locally");
    await be.membership.beat();
    expect(await chooseProcessor(be.ctx)).toBe("be1");

    // An operator removes the row: the member registers again, keeping the mode in force.
    await setMemberSubmitMode(tdb.storage.db, "be1", "remotely");
    await be.membership.beat();
    await deregisterMember(tdb.storage.db, "be1");
    await be.membership.beat();
    const [row] = await queryRows(tdb.storage.db, sql`SELECT submit_mode FROM members WHERE name = 'be1'`);
    expect(strOrNull(row.submit_mode)).toBe("remotely");
  });

  it("remotely with no live locally-for-others member falls back to its own processing, logged and counted", async () => {
    const fe = await member("fe1", "locally-for-others");
    const rem = await member("be2", "remotely");
    expect(await chooseProcessor(rem.ctx)).toBeNull();

    // fe1 stops heartbeating (its process hangs or died): past the member timeout it is dead.
    await beatOnly([rem], testSettings.member_timeout_seconds + 1);
    expect(rem.view.poolServers()).toEqual([]);
    const m = await submitFrom(rem);
    expect(m.processor).toBe("be2");
    expect(rem.ctx.metrics.value("mailcluster_submit_fallback_total")).toBe(1);

    rem.worker.start();
    await until(() => delivered.length === 1, "the fallback message delivered");
    expect(deliveredBy(m.messageId)).toEqual(["be2"]);
    void fe;
  });

  it("a message put in the pool just before the last pool server died is not stranded", async () => {
    const fe = await member("fe1", "locally-for-others");
    const rem = await member("be2", "remotely");
    const pooled = await submitFrom(rem);
    expect(pooled.processor).toBeNull();
    rem.worker.start();
    // While fe1 is (believed) alive, be2 leaves the pool alone.
    await new Promise((r) => setTimeout(r, 150));
    expect(delivered).toHaveLength(0);

    await beatOnly([rem], testSettings.member_timeout_seconds + 1);
    expect(rem.view.includePool()).toBe(true);
    rem.worker.nudge();
    await until(() => delivered.length === 1, "the pool message delivered by the remotely member");
    expect(deliveredBy(pooled.messageId)).toEqual(["be2"]);
    void fe;
  });

  it("once a pool server is alive again, a remotely member hands its fallback messages back to the pool", async () => {
    const rem = await member("be2", "remotely");
    const kept = await submitFrom(rem);
    expect(kept.processor).toBe("be2");
    // Deferred: not in flight, waiting for its next attempt.
    await tdb.storage.db.execute(sql`UPDATE recipients SET next_attempt_at = next_attempt_at + interval '10 minutes'`);

    const fe = await member("fe1", "locally-for-others");
    await rem.coordinator.runPass();
    expect(rem.view.poolServers()).toEqual([]); // not seen yet: no hand-back without a heartbeat
    let [row] = await queryRows(tdb.storage.db, sql`SELECT processor FROM messages WHERE id = ${kept.messageId}`);
    expect(strOrNull(row.processor)).toBe("be2");

    await beatOnly([rem, fe], 1);
    await rem.coordinator.runPass();
    [row] = await queryRows(tdb.storage.db, sql`SELECT processor FROM messages WHERE id = ${kept.messageId}`);
    expect(strOrNull(row.processor)).toBeNull();
    expect(rem.ctx.metrics.value("mailcluster_returned_to_pool_total")).toBe(1);

    clock.advance(11 * 60_000);
    fe.worker.start();
    rem.worker.start();
    await until(() => delivered.length === 1, "delivered from the pool");
    expect(deliveredBy(kept.messageId)).toEqual(["fe1"]);
  });

  it("the coordinator adopts a dead member's work on a locally-for-others member only, then its worker delivers it", async () => {
    const fe = await member("fe1", "locally-for-others");
    const loc = await member("be1", "locally");
    const dead = await member("be9", "locally");
    const orphans = [await submitFrom(dead, "o1@remote.test"), await submitFrom(dead, "o2@remote.test")];
    await beatOnly([fe, loc], testSettings.member_timeout_seconds + 1);

    await loc.coordinator.runPass();
    expect(loc.ctx.metrics.value("mailcluster_adopted_messages_total")).toBe(0);
    await fe.coordinator.runPass();
    expect(fe.ctx.metrics.value("mailcluster_adopted_messages_total")).toBe(2);
    const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM messages WHERE processor = 'fe1'`);
    expect(num(row.n)).toBe(2);

    fe.worker.start();
    loc.worker.start();
    await until(() => delivered.length === 2, "adopted messages delivered");
    for (const o of orphans) expect(deliveredBy(o.messageId)).toEqual(["fe1"]);
  });
});
