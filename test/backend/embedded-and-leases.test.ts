import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountOwnership } from "../../src/backend/account-owner.ts";
import { readAccountLeases } from "../../src/cluster/account-leases.ts";
import type { Storage } from "../../src/db/storage.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";
import { channelEnvelope, count, createAccounts, deliverOnce, rawMessage, startBackend, submit, type TestBackend } from "../helpers/backends.ts";

// The zero-set-up default runs on embedded PGlite (one connection): local delivery must work there too.
describe("local delivery on embedded PGlite", () => {
  let storage: Storage;
  let backend: TestBackend;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));

  beforeAll(async () => {
    storage = await createPgliteDatabase();
    backend = await startBackend(storage, "solo", clock, { settings: { account_lease_seconds: 60, account_idle_seconds: 30 } });
  });
  afterAll(async () => {
    await backend.stop();
    await storage.close();
  });

  it("delivers through the direct in-process call, idempotently", async () => {
    const accounts = await createAccounts(storage, 3);
    for (let i = 0; i < 9; i++) await submit(backend.ctx, [accounts[i % 3], accounts[(i + 1) % 3]], rawMessage(`m${i}`));
    const out = await deliverOnce(backend.ctx);
    expect(out).toHaveLength(18);
    expect(out.every((o) => o.kind === "delivered")).toBe(true);
    expect(await count(storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`)).toBe(18);
    // The whole claimed batch in one direct call (its 9 messages together).
    expect(backend.ctx.metrics.value("mailcluster_local_channel_calls_total", { path: "direct" })).toBe(1);
    expect(backend.ctx.metrics.value("mailcluster_local_channel_calls_total", { path: "http" })).toBe(0);
    // A redelivery (the queue never heard the answer) stores no second copy.
    const content = rawMessage("m0");
    const again = await backend.component.delivery?.deliver(channelEnvelope(out[0].messageId, [out[0].address], content), content);
    expect(again?.[0]).toMatchObject({ status: "stored", code: 250 });
    expect(await count(storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`)).toBe(18);
  });

  it("graceful stop: new deliveries refused (4xx), the one under way finishes, then the leases are given back", async () => {
    const [a, b] = await createAccounts(storage, 2, null, "drain");
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let entered: () => void = () => {};
    const inRules = new Promise<void>((r) => (entered = r));
    const slow = await startBackend(storage, "drainer", clock, {
      rules: {
        run: async () => {
          entered();
          await gate;
          return [{ kind: "store", folder: "INBOX" }];
        },
      },
    });
    const content = rawMessage("slow one");
    const env = (account: string, messageId: number) => channelEnvelope(messageId, [account], content);
    const delivery = slow.component.delivery;
    if (!delivery) throw new Error("no delivery service");
    const underWay = delivery.deliver(env(a, 9001), content);
    await inRules;
    let stopped = false;
    const stopping = slow.stop().then(() => (stopped = true));
    const refused = await delivery.deliver(env(b, 9002), content);
    expect(refused[0]).toMatchObject({ status: "temporary", code: 421 });
    expect(stopped).toBe(false);
    release();
    expect((await underWay)[0]).toMatchObject({ status: "stored" });
    await stopping;
    expect(await count(storage, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${a}`)).toBe(1);
    const [lease] = await readAccountLeases(storage.db, [a]);
    expect(lease.leaseUntil.getTime()).toBeLessThanOrEqual(clock.now().getTime());
  });

  it("leases: reused while fresh, renewed while in use, released when idle and on shutdown", async () => {
    const [a, b] = await createAccounts(storage, 2, null, "lease");
    const own = new AccountOwnership({ db: storage.db, member: "solo2", clock, logger: silentLogger, leaseMs: () => 60_000, idleMs: () => 30_000 });
    expect(await own.open(a, null)).toEqual({ kind: "open", epoch: 1 });
    expect(await own.open(b, null)).toEqual({ kind: "open", epoch: 1 });
    const until0 = (await readAccountLeases(storage.db, [a]))[0].leaseUntil.getTime();
    clock.advance(20_000);
    await own.open(a, null); // fresh enough: served from memory
    expect((await readAccountLeases(storage.db, [a]))[0].leaseUntil.getTime()).toBe(until0);
    clock.advance(15_000); // a used 15 s ago, b 35 s ago; a's lease is past half-time
    await own.maintain();
    const [la, lb] = await readAccountLeases(storage.db, [a, b]).then((ls) => [ls.find((l) => l.account === a), ls.find((l) => l.account === b)]);
    expect(la?.leaseUntil.getTime()).toBe(clock.now().getTime() + 60_000);
    expect(la?.epoch).toBe(1);
    expect(lb?.leaseUntil.getTime()).toBe(clock.now().getTime());
    expect(own.heldCount).toBe(1);
    await own.releaseAll();
    expect((await readAccountLeases(storage.db, [a]))[0].leaseUntil.getTime()).toBe(clock.now().getTime());
    expect(await own.open(a, null)).toEqual({ kind: "closing" });
    // Static accounts: only the home member opens them.
    const other = new AccountOwnership({ db: storage.db, member: "solo3", clock, logger: silentLogger, leaseMs: () => 60_000, idleMs: () => 30_000 });
    expect(await other.open(a, "solo3")).toEqual({ kind: "open", epoch: null });
    expect(await other.open(a, "elsewhere")).toEqual({ kind: "elsewhere", owner: "elsewhere" });
    expect(await other.open(b, null)).toEqual({ kind: "open", epoch: 2 });
  });
});
