import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import { queryRows, num, str } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { readMessageBody } from "../../src/queue/body.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { releaseRecipients, renewRecipientLeases } from "../../src/queue/lease.ts";
import { purgeExpired } from "../../src/queue/purge.ts";
import { registerMember, liveMembers, heartbeatMember, deregisterMember } from "../../src/cluster/members.ts";
import { loadSettings, setSetting } from "../../src/cluster/settings.ts";
import type { RetryPolicy } from "../../src/queue/retry-schedule.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { QUEUE_CHANNEL } from "../../src/queue/channel.ts";

const policy: RetryPolicy = { initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 5 * 86400 };
const noJitter = { next: () => 0.5 };
const body = new TextEncoder().encode("Subject: hi\r\n\r\nhello\r\n");

/**
 * The same storage behaviour, asserted against every adapter (River's `Exercise(driver)`).
 * `open` gives a fresh migrated storage; `close` disposes of it.
 */
export function storageConformance(adapter: string, open: () => Promise<Storage>, close: (s: Storage) => Promise<void>): void {
  describe(`storage conformance: ${adapter}`, () => {
    let storage: Storage;
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));

    beforeAll(async () => {
      storage = await open();
    });
    afterAll(async () => {
      await close(storage);
    });
    beforeEach(async () => {
      await storage.db.execute(sql`TRUNCATE messages, recipients, attempts, members, settings RESTART IDENTITY CASCADE`);
    });

    const submit = (rcpts: string[], processor: string | null = null) =>
      submitMessage(storage.db, {
        envelope: { sender: "alice@example.org", recipients: rcpts.map((address) => ({ address })) },
        content: body,
        submittedBy: "m1",
        processor,
        now: clock.now(),
      });

    it("submit stores message, body and one queue row per recipient", async () => {
      const r = await submit(["a@x.test", "B@X.Test"]);
      expect(r.recipientIds).toHaveLength(2);
      const rows = await queryRows(storage.db, sql`SELECT address, domain, state FROM recipients ORDER BY id`);
      expect(rows.map((x) => [x.address, x.domain, x.state])).toEqual([
        ["a@x.test", "x.test", "queued"],
        ["B@x.test", "x.test", "queued"],
      ]);
      const bodies = await queryRows(storage.db, sql`SELECT length(content)::int AS n FROM message_bodies`);
      expect(num(bodies[0].n)).toBe(body.byteLength);
    });

    it("a large body is stored in 1 MiB parts and reads back byte for byte", async () => {
      const big = new Uint8Array(2.5 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      const { messageId } = await submitMessage(storage.db, {
        envelope: { sender: "a@example.org", recipients: [{ address: "r@x.test" }] },
        content: big,
        submittedBy: "m1",
        processor: null,
        now: clock.now(),
      });
      const parts = await queryRows(storage.db, sql`SELECT part, length(content)::int AS n FROM message_bodies WHERE message_id = ${messageId} ORDER BY part`);
      expect(parts.map((p) => [num(p.part), num(p.n)])).toEqual([[0, 1048576], [1, 1048576], [2, 524288]]);
      const back = await readMessageBody(storage.db, messageId);
      expect(back?.byteLength).toBe(big.byteLength);
      expect(Buffer.compare(Buffer.from(back!), Buffer.from(big))).toBe(0);
      expect(await readMessageBody(storage.db, messageId + 999)).toBeNull();
    });

    it("claim takes ready rows once, with a lease, and honours the processor", async () => {
      await submit(["a@x.test", "b@x.test"]);
      await submit(["c@x.test"], "other-member");
      const first = await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
      expect(first.map((c) => c.address).sort()).toEqual(["a@x.test", "b@x.test"]);
      expect(first[0].lockedUntil.getTime()).toBe(clock.now().getTime() + 60_000);
      const again = await claimRecipients(storage.db, { member: "m2", includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
      expect(again).toHaveLength(0);
      const own = await claimRecipients(storage.db, { member: "other-member", includePool: false, limit: 10, leaseMs: 60_000, now: clock.now() });
      expect(own.map((c) => c.address)).toEqual(["c@x.test"]);
    });

    it("an expired lease makes rows claimable again, not before", async () => {
      await submit(["a@x.test"]);
      await claimRecipients(storage.db, { member: "dead", includePool: true, limit: 10, leaseMs: 30_000, now: clock.now() });
      clock.advance(29_000);
      expect(await claimRecipients(storage.db, { member: "m2", includePool: true, limit: 10, leaseMs: 30_000, now: clock.now() })).toHaveLength(0);
      clock.advance(2_000);
      const taken = await claimRecipients(storage.db, { member: "m2", includePool: true, limit: 10, leaseMs: 30_000, now: clock.now() });
      expect(taken).toHaveLength(1);
      // The dead member's late result is discarded.
      const late = await recordOutcomes(storage.db, {
        member: "dead",
        results: [{ recipient: taken[0], outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 1 }],
        now: clock.now(),
        policy,
        random: noJitter,
      });
      expect(late.lost).toEqual([taken[0].id]);
    });

    it("renew extends only leases still held; release hands rows back", async () => {
      await submit(["a@x.test"]);
      const [c] = await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 10, leaseMs: 10_000, now: clock.now() });
      clock.advance(5_000);
      expect(await renewRecipientLeases(storage.db, { member: "m1", ids: [c.id], now: clock.now(), leaseMs: 10_000 })).toEqual([c.id]);
      expect(await renewRecipientLeases(storage.db, { member: "m2", ids: [c.id], now: clock.now(), leaseMs: 10_000 })).toEqual([]);
      expect(await releaseRecipients(storage.db, "m1", [c.id])).toBe(1);
      expect(await claimRecipients(storage.db, { member: "m2", includePool: true, limit: 10, leaseMs: 10_000, now: clock.now() })).toHaveLength(1);
    });

    it("outcomes: delivered and failed are final, deferred follows the schedule, the message is done with its last recipient", async () => {
      const { messageId } = await submit(["ok@x.test", "bad@x.test", "later@x.test"]);
      const claimed = await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
      const by = (a: string) => claimed.find((c) => c.address === a)!;
      const summary = await recordOutcomes(storage.db, {
        member: "m1",
        now: clock.now(),
        policy,
        random: noJitter,
        results: [
          { recipient: by("ok@x.test"), outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 3 },
          { recipient: by("bad@x.test"), outcome: { kind: "failed", reply: { code: 550, enhanced: "5.1.1", text: "no such user" } }, startedAt: clock.now(), durationMs: 3 },
          { recipient: by("later@x.test"), outcome: { kind: "deferred", reply: { code: 451, enhanced: "4.4.1", text: "try later" } }, startedAt: clock.now(), durationMs: 3 },
        ],
      });
      expect(summary.lost).toEqual([]);
      expect(summary.doneMessageIds).toEqual([]);
      const later = summary.recorded.find((r) => r.id === by("later@x.test").id)!;
      expect(later.state).toBe("queued");
      expect(later.nextAttemptAt!.getTime() - clock.now().getTime()).toBe(300_000);
      const attemptsRows = await queryRows(storage.db, sql`SELECT outcome, reply_code FROM attempts ORDER BY reply_code`);
      expect(attemptsRows.map((r) => [str(r.outcome), num(r.reply_code)])).toEqual([["delivered", 250], ["deferred", 451], ["failed", 550]]);

      // Not due yet: nothing to claim. Due: claim and deliver, and the message is done.
      expect(await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() })).toHaveLength(0);
      clock.advance(300_000);
      const [retry] = await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 10, leaseMs: 60_000, now: clock.now() });
      expect(retry.attempts).toBe(1);
      const done = await recordOutcomes(storage.db, {
        member: "m1",
        now: clock.now(),
        policy,
        random: noJitter,
        results: [{ recipient: retry, outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 1 }],
      });
      expect(done.doneMessageIds).toEqual([messageId]);
      const msg = await queryRows(storage.db, sql`SELECT pending_recipients, done_at FROM messages WHERE id = ${messageId}`);
      expect(num(msg[0].pending_recipients)).toBe(0);
      expect(msg[0].done_at).not.toBeNull();
    });

    it("purge drops done messages after the retention, keeps open ones", async () => {
      const { messageId } = await submit(["a@x.test"]);
      const open = await submit(["b@x.test"]);
      const [c] = await claimRecipients(storage.db, { member: "m1", includePool: true, limit: 1, leaseMs: 60_000, now: clock.now() });
      expect(c.messageId).toBe(messageId);
      await recordOutcomes(storage.db, {
        member: "m1", now: clock.now(), policy, random: noJitter,
        results: [{ recipient: c, outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 1 }],
      });
      expect(await purgeExpired(storage.db, { now: clock.now(), retentionSeconds: 3600 })).toEqual({ messages: 0, attempts: 0 });
      clock.advance(3601_000);
      expect(await purgeExpired(storage.db, { now: clock.now(), retentionSeconds: 3600 })).toEqual({ messages: 1, attempts: 1 });
      const left = await queryRows(storage.db, sql`SELECT id FROM messages`);
      expect(left.map((r) => num(r.id))).toEqual([open.messageId]);
      const bodies = await queryRows(storage.db, sql`SELECT count(*)::int AS n FROM message_bodies`);
      expect(num(bodies[0].n)).toBe(1);
    });

    it("members: register, heartbeat, live view, deregister", async () => {
      const info = { name: "fe1", roles: ["frontend" as const], smtpEndpoint: "127.0.0.1:2525", httpUrl: "http://127.0.0.1:8025", submitMode: "locally" as const, hostname: "h", pid: 1, version: "t" };
      await registerMember(storage.db, info, clock.now());
      await registerMember(storage.db, { ...info, name: "be1", roles: ["backend"] }, new Date(clock.now().getTime() - 60_000));
      const live = await liveMembers(storage.db, clock.now(), 30);
      expect(live.map((m) => m.name)).toEqual(["fe1"]);
      expect(await heartbeatMember(storage.db, "be1", clock.now())).toBe(true);
      expect((await liveMembers(storage.db, clock.now(), 30)).map((m) => m.name)).toEqual(["be1", "fe1"]);
      await deregisterMember(storage.db, "fe1");
      expect(await heartbeatMember(storage.db, "fe1", clock.now())).toBe(false);
    });

    it("settings: defaults, validated writes", async () => {
      expect((await loadSettings(storage.db)).retry_initial_seconds).toBe(300);
      await setSetting(storage.db, "retry_initial_seconds", 60);
      expect((await loadSettings(storage.db)).retry_initial_seconds).toBe(60);
      await expect(setSetting(storage.db, "retry_initial_seconds", "soon")).rejects.toThrow(/takes a number/);
      await expect(setSetting(storage.db, "no_such_key", 1)).rejects.toThrow(/unknown setting/);
    });

    it("a submit inside a caller's transaction notifies at that commit, and a rollback leaves nothing", async () => {
      const got: string[] = [];
      const unlisten = await storage.listen(QUEUE_CHANNEL, (p) => got.push(p));
      await expect(
        storage.db.transaction(async (tx) => {
          await submitMessage(tx, { envelope: { sender: "", recipients: [{ address: "x@x.test" }] }, content: body, submittedBy: "m1", processor: "rolled-back", now: clock.now() }, { inTransaction: true });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      await storage.db.transaction(async (tx) => {
        await submitMessage(tx, { envelope: { sender: "", recipients: [{ address: "y@x.test" }] }, content: body, submittedBy: "m1", processor: "in-tx", now: clock.now() }, { inTransaction: true });
      });
      for (let i = 0; i < 50 && !got.includes("in-tx"); i++) await new Promise((r) => setTimeout(r, 20));
      await unlisten();
      expect(got).toContain("in-tx");
      expect(got).not.toContain("rolled-back");
      const rows = await queryRows(storage.db, sql`SELECT address FROM recipients`);
      expect(rows.map((r) => r.address)).toEqual(["y@x.test"]);
    });

    it("a large message submitted in a caller's transaction (which says so) is written in it: gone with its rollback, whole after its commit", async () => {
      const large = new Uint8Array(2 * 1024 * 1024 + 10).fill(0x61);
      const envelope = { sender: "", recipients: [{ address: "big@x.test" }] };
      await expect(
        storage.db.transaction(async (tx) => {
          await submitMessage(tx, { envelope, content: large, submittedBy: "m1", processor: "m1", now: clock.now() }, { inTransaction: true });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await queryRows(storage.db, sql`SELECT id FROM messages`)).toEqual([]);
      const { messageId } = await storage.db.transaction((tx) =>
        submitMessage(tx, { envelope, content: large, submittedBy: "m1", processor: "m1", now: clock.now() }, { inTransaction: true }),
      );
      expect(await readMessageBody(storage.db, messageId)).toEqual(large);
    });

    it("NOTIFY on submit reaches a listener after commit", async () => {
      const got: string[] = [];
      const unlisten = await storage.listen(QUEUE_CHANNEL, (p) => got.push(p));
      await submit(["a@x.test"], "m9");
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await unlisten();
      expect(got).toContain("m9");
    });
  });
}
