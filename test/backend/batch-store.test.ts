import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AccountRuleRunner } from "../../src/backend/account-rules.ts";
import { ClusterView } from "../../src/cluster/cluster-view.ts";
import { listMembers } from "../../src/cluster/members.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { type CountingStorage, openCountingStorage } from "./counting-storage.ts";
import { channelEnvelope, count, createAccounts, deliverOnce, rawMessage, startBackend, submit, testContext, type TestBackend } from "../helpers/backends.ts";

// The store side of a claimed batch: one transaction for everything this process owns, the
// queue outcomes recorded in it, a lost lease deferring only its own account.
describe("batched local delivery (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  let counting: CountingStorage;
  let backend: TestBackend;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let accounts: string[];
  // Set by a test: runs inside the rules step, after the accounts were opened, before the store.
  let beforeStore: (() => Promise<void>) | null = null;
  const rules: AccountRuleRunner = {
    run: async () => {
      const hook = beforeStore;
      beforeStore = null;
      await hook?.();
      return [{ kind: "store", folder: "INBOX" }];
    },
  };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    counting = openCountingStorage(tdb.url);
    accounts = await createAccounts(tdb.storage, 8, null, "batch");
    backend = await startBackend(counting, "b1", clock, { rules });
    // Who is alive comes from the heartbeat's view in a member, not from a query per batch.
    const view = new ClusterView("b1", "locally-for-others");
    view.update(await listMembers(tdb.storage.db, clock.now(), 60));
    backend.ctx.cluster = view;
  });
  afterAll(async () => {
    await backend.stop();
    await counting.close();
    await tdb.drop();
  });
  beforeEach(() => {
    beforeStore = null;
  });

  // Messages come in through another pool, so only the delivery's statements are counted.
  const submitter = () => testContext(tdb.storage, "frontend", clock);
  const stored = (account?: string) =>
    account
      ? count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${account}`)
      : count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`);

  it("costs the same few statements for a batch of 4 or of 40 messages (O(1) per batch)", async () => {
    // Warm: the accounts are opened (their leases held in memory) by a first batch.
    for (const a of accounts) await submit(submitter(), [a], rawMessage("warm-up"));
    expect((await deliverOnce(backend.ctx)).every((o) => o.kind === "delivered")).toBe(true);

    const measure = async (n: number) => {
      for (let i = 0; i < n; i++) await submit(submitter(), [accounts[i % accounts.length]], rawMessage(`counted ${n} ${i}`));
      counting.reset();
      const out = await deliverOnce(backend.ctx);
      expect(out).toHaveLength(n);
      expect(out.every((o) => o.kind === "delivered")).toBe(true);
      return [...counting.statements];
    };
    const small = await measure(4);
    const large = await measure(40);
    expect(large, `statements for 4 messages:\n${small.join("\n")}`).toHaveLength(small.length);
    // The same texts, not just as many: each connection prepares each of them once.
    expect([...large].sort()).toEqual([...small].sort());
    // claim, bodies, BEGIN, epochs FOR SHARE, uids + insert, outcomes, COMMIT.
    expect(large.length).toBeLessThanOrEqual(7);
    expect(large.filter((s) => /^begin/i.test(s))).toHaveLength(1);
    expect(large.filter((s) => /insert into mailbox_messages/i.test(s))).toHaveLength(1);
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM recipients WHERE state <> 'delivered'`)).toBe(0);
  });

  it("a lease lost mid-store defers only that account; the rest is stored and recorded in the same transaction", async () => {
    const [lostAccount, kept] = accounts;
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(submitter(), [lostAccount, kept], rawMessage(`lost lease ${i}`)));
    // Another member takes the account over after b1 opened it and before b1 stores.
    beforeStore = async () => {
      await tdb.storage.db.execute(sql`UPDATE account_leases SET member = 'b9', epoch = epoch + 1 WHERE account = ${lostAccount}`);
    };
    const before = await stored();
    const out = await deliverOnce(backend.ctx);
    expect(out.filter((o) => o.address === kept).map((o) => o.kind)).toEqual(["delivered", "delivered", "delivered"]);
    const lost = out.filter((o) => o.address === lostAccount);
    expect(lost.map((o) => o.kind)).toEqual(["deferred", "deferred", "deferred"]);
    expect(lost[0].reply).toMatchObject({ code: 451, enhanced: "4.4.0" });
    expect(lost[0].reply.text).toContain("lost to b9");
    expect(await stored()).toBe(before + 3);
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${lostAccount} AND queue_message_id = ANY(${`{${ids.join(",")}}`}::bigint[])`)).toBe(0);
    // The same transaction wrote the copy and completed its queue row: one xid on both rows.
    const rows = await queryRows(
      tdb.storage.db,
      sql`SELECT mm.xmin::text AS stored_in, r.xmin::text AS recorded_in, r.state
          FROM mailbox_messages mm JOIN recipients r ON r.message_id = mm.queue_message_id AND r.address = mm.account
          WHERE mm.account = ${kept} AND mm.queue_message_id = ANY(${`{${ids.join(",")}}`}::bigint[])`,
    );
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect(str(r.state)).toBe("delivered");
      expect(str(r.recorded_in)).toBe(str(r.stored_in));
    }
    const deferred = await queryRows(tdb.storage.db, sql`SELECT state, attempts, last_code FROM recipients WHERE address = ${lostAccount} AND message_id = ANY(${`{${ids.join(",")}}`}::bigint[])`);
    expect(deferred.map((r) => [str(r.state), num(r.attempts), num(r.last_code)])).toEqual([
      ["queued", 1, 451],
      ["queued", 1, 451],
      ["queued", 1, 451],
    ]);
    // Forgotten by b1: the next attempt asks the database again and is sent to the new holder.
    expect(backend.component.delivery?.ownership.holds(lostAccount)).toBe(false);
  });

  it("redelivery of a batch after a lost reply stores nothing twice (channel and queue)", async () => {
    const [a, b, c] = accounts.slice(3);
    await tdb.storage.db.execute(sql`UPDATE accounts SET quota_bytes = 1000000 WHERE address = ${c}`);
    await backend.ctx.directory.refresh();
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submit(submitter(), [a, b, c], rawMessage(`redelivered ${i}`)));
    const first = await deliverOnce(backend.ctx);
    expect(first.every((o) => o.kind === "delivered")).toBe(true);
    const after = await stored();

    // The channel: the same batch again, as a sender that never heard the answer would send it.
    const delivery = backend.component.delivery;
    if (!delivery) throw new Error("no delivery service");
    const items = ids.map((messageId, i) => {
      const content = rawMessage(`redelivered ${i}`);
      return { envelope: channelEnvelope(messageId, [a, b, c], content), content };
    });
    const again = await delivery.deliverBatch(items);
    expect(again).toHaveLength(12);
    expect(again.every((x) => x.status === "stored" && x.code === 250 && x.text.includes("already stored"))).toBe(true);
    expect(await stored()).toBe(after);

    // The queue: the recipients queued again (their outcome "lost"), delivered again, still one copy each.
    await tdb.storage.db.execute(sql`UPDATE recipients SET state = 'queued', final_at = NULL, next_attempt_at = ${clock.now().toISOString()}::timestamptz WHERE message_id = ANY(${`{${ids.join(",")}}`}::bigint[])`);
    await tdb.storage.db.execute(sql`UPDATE messages SET pending_recipients = 3, done_at = NULL WHERE id = ANY(${`{${ids.join(",")}}`}::bigint[])`);
    const second = await deliverOnce(backend.ctx);
    expect(second).toHaveLength(12);
    expect(second.every((o) => o.kind === "delivered" && o.reply.text.includes("already stored"))).toBe(true);
    expect(await stored()).toBe(after);
    for (const account of [a, b, c]) {
      const dup = await count(tdb.storage, sql`SELECT count(*)::int AS n FROM (SELECT queue_message_id FROM mailbox_messages WHERE account = ${account} GROUP BY queue_message_id HAVING count(*) > 1) d`);
      expect(dup).toBe(0);
    }
  });

  it("uids run on per folder across one batch, several messages for one account", async () => {
    const account = accounts[6];
    const [{ n: before }] = (await queryRows(tdb.storage.db, sql`SELECT coalesce(max(uid), 0)::int AS n FROM mailbox_messages WHERE account = ${account}`)).map((r) => ({ n: num(r.n) }));
    for (let i = 0; i < 5; i++) await submit(submitter(), [account], rawMessage(`uid ${i}`));
    await deliverOnce(backend.ctx);
    const uids = (await queryRows(tdb.storage.db, sql`SELECT uid FROM mailbox_messages WHERE account = ${account} AND uid > ${before} ORDER BY uid`)).map((r) => num(r.uid));
    expect(uids).toEqual([before + 1, before + 2, before + 3, before + 4, before + 5]);
  });
});
