import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex, signRequest } from "../../src/backend/channel-auth.ts";
import { DELIVER_PATH, encodeRequest, type ChannelEnvelope } from "../../src/backend/channel-protocol.ts";
import { ensureClusterSecret } from "../../src/cluster/cluster-secret.ts";
import { storeMessage } from "../../src/backend/mailbox-store.ts";
import { acquireAccountLease } from "../../src/cluster/account-leases.ts";
import { callDeliveryChannel, ChannelCallError } from "../../src/delivery/channel-client.ts";
import { queryRows } from "../../src/db/rows.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { channelEnvelope, count, createAccounts, rawMessage, startBackend, testContext, type TestBackend } from "../helpers/backends.ts";

describe("delivery channel (real PostgreSQL, real HTTP)", () => {
  let tdb: TestDatabase;
  let backend: TestBackend;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let accounts: string[];
  let nextId = 1000;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    accounts = await createAccounts(tdb.storage, 3);
    backend = await startBackend(tdb.storage, "b1", clock, { settings: { delivery_channel_max_bytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await backend.stop();
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`DELETE FROM mailbox_messages`);
    await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = true, quota_bytes = NULL`);
    // Changed behind the directory's back (no NOTIFY listener here): as its poll would, reload.
    await backend.ctx.directory.refresh();
  });

  const stored = () => count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`);
  const envelope = (account: string, content: Uint8Array, messageId = nextId++): ChannelEnvelope => channelEnvelope(messageId, [account], content);
  const client = () => testContext(tdb.storage, "sender", clock);
  const sign = async (secret: string, body: Uint8Array, now: Date, member: string) =>
    signRequest(secret, { method: "POST", path: DELIVER_PATH, digest: sha256Hex(body), now, member, target: null });
  const post = async (body: Uint8Array, headers: Record<string, string>) => {
    const res = await fetch(backend.url + DELIVER_PATH, { method: "POST", headers, body });
    return { status: res.status, text: await res.text() };
  };

  it("the secret is generated once into the database and shared by every member", async () => {
    const a = await backend.ctx.clusterSecret.get();
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(await ensureClusterSecret(tdb.storage.db, null)).toBe(a);
    expect(await ensureClusterSecret(tdb.storage.db, "configured-secret-wins")).toBe("configured-secret-wins");
  });

  it("a signed request stores the message and answers 2xx per recipient", async () => {
    const content = rawMessage("hello one");
    const answers = await callDeliveryChannel(client(), backend.url, envelope(accounts[0], content), content);
    expect(answers).toEqual([expect.objectContaining({ id: 1, account: accounts[0], status: "stored", code: 250 })]);
    const rows = await queryRows(
      tdb.storage.db,
      sql`SELECT f.name AS folder, mm.uid, mm.subject, mm.stored_by, mm.size_bytes FROM mailbox_messages mm JOIN mailbox_folders f ON f.id = mm.folder_id`,
    );
    expect(rows).toEqual([{ folder: "INBOX", uid: 1, subject: "hello one", stored_by: "b1", size_bytes: content.byteLength }]);
  });

  it("redelivery of the same queue message stores one copy and answers 2xx again", async () => {
    const content = rawMessage("twice");
    const env = envelope(accounts[1], content);
    const first = await callDeliveryChannel(client(), backend.url, env, content);
    const second = await callDeliveryChannel(client(), backend.url, env, content);
    expect(first[0].status).toBe("stored");
    expect(second[0]).toMatchObject({ status: "stored", code: 250 });
    expect(second[0].text).toContain("already stored");
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${accounts[1]}`)).toBe(1);
  });

  it("missing or wrong signature → 401 and nothing stored", async () => {
    const content = rawMessage("unsigned");
    const body = encodeRequest(envelope(accounts[0], content), content);
    expect((await post(body, {})).status).toBe(401);
    const wrong = await sign("not-the-cluster-secret", body, clock.now(), "evil");
    const r = await post(body, { ...wrong });
    expect(r.status).toBe(401);
    expect(r.text).toContain("wrong signature");
    // Signed for another body: the digest does not match.
    const secret = await backend.ctx.clusterSecret.get();
    const other = await sign(secret, encodeRequest(envelope(accounts[0], content), content), clock.now(), "x");
    expect((await post(body, { ...other })).status).toBe(401);
    await expect(callDeliveryChannel(testContext(tdb.storage, "outsider", clock, {}, "a-different-secret"), backend.url, envelope(accounts[0], content), content)).rejects.toBeInstanceOf(ChannelCallError);
    expect(await stored()).toBe(0);
  });

  it("a stale timestamp or a replayed request → 401, nothing stored twice", async () => {
    const secret = await backend.ctx.clusterSecret.get();
    const content = rawMessage("stale");
    const body = encodeRequest(envelope(accounts[0], content), content);
    const old = await sign(secret, body, new Date(clock.now().getTime() - 61_000), "b0");
    const stale = await post(body, { ...old });
    expect(stale.status).toBe(401);
    expect(stale.text).toContain("window");
    const fresh = await sign(secret, body, clock.now(), "b0");
    expect((await post(body, { ...fresh })).status).toBe(200);
    const replay = await post(body, { ...fresh });
    expect(replay.status).toBe(401);
    expect(replay.text).toContain("replayed");
    expect(await stored()).toBe(1);
  });

  it("garbage, invalid envelopes and truncated bodies → 400 with a reason, nothing stored", async () => {
    const secret = await backend.ctx.clusterSecret.get();
    const content = rawMessage("broken");
    const good = encodeRequest(envelope(accounts[0], content), content);
    const cases: Array<[Uint8Array, string]> = [
      [new TextEncoder().encode("this is not a delivery request"), "no envelope line"],
      [new TextEncoder().encode("{not json\nbody"), "not valid JSON"],
      [new TextEncoder().encode(JSON.stringify({ messageId: 1, sender: "a@b.c", size: 1, recipients: [] }) + "\nx"), "recipients"],
      [new TextEncoder().encode(JSON.stringify({ messageId: -1, sender: "a@b.c", size: 1, recipients: [{ id: 1, account: "u@x.y" }] }) + "\nx"), "messageId"],
      [good.subarray(0, good.byteLength - 5), "truncated"],
    ];
    for (const [body, reason] of cases) {
      const r = await post(body, { ...await sign(secret, body, clock.now(), "b0") });
      expect(r.status).toBe(400);
      expect(r.text).toContain(reason);
    }
    expect(await stored()).toBe(0);
  });

  it("oversize → 413, nothing stored", async () => {
    const secret = await backend.ctx.clusterSecret.get();
    const content = rawMessage("big", [], "x".repeat(70 * 1024));
    const body = encodeRequest(envelope(accounts[0], content), content);
    const r = await post(body, { ...await sign(secret, body, clock.now(), "b0") });
    expect(r.status).toBe(413);
    expect(await stored()).toBe(0);
  });

  it("unknown or disabled account → 5xx; over quota → 4xx (temporary by default)", async () => {
    const content = rawMessage("refused");
    await tdb.storage.db.execute(sql`UPDATE accounts SET enabled = false WHERE address = ${accounts[2]}`);
    await tdb.storage.db.execute(sql`UPDATE accounts SET quota_bytes = 10 WHERE address = ${accounts[1]}`);
    await backend.ctx.directory.refresh();
    const env = channelEnvelope(nextId++, ["nobody@local.test", accounts[2], accounts[1]], content);
    const answers = await callDeliveryChannel(client(), backend.url, env, content);
    expect(answers.map((a) => [a.id, a.status, a.enhanced])).toEqual([
      [1, "permanent", "5.1.1"],
      [2, "permanent", "5.2.1"],
      [3, "temporary", "4.2.2"],
    ]);
    expect(await stored()).toBe(0);
  });

  it("over quota answers 5.2.2 when the cluster says quota is permanent", async () => {
    const strict = await startBackend(tdb.storage, "b-strict", clock, { settings: { quota_temporary: false } });
    try {
      // An account nobody holds yet (b1 has the others open).
      const [fresh] = await createAccounts(tdb.storage, 1, null, "quota");
      await tdb.storage.db.execute(sql`UPDATE accounts SET quota_bytes = 10 WHERE address = ${fresh}`);
      await strict.ctx.directory.refresh();
      const content = rawMessage("too much");
      const answers = await strict.component.delivery?.deliver(envelope(fresh, content), content);
      expect(answers?.[0]).toMatchObject({ status: "permanent", code: 552, enhanced: "5.2.2" });
      expect(answers?.[0].text).toContain("over quota");
      expect(await stored()).toBe(0);
    } finally {
      await strict.stop();
    }
  });

  it("an account leased by another member is answered with its owner", async () => {
    const content = rawMessage("elsewhere");
    await acquireAccountLease(tdb.storage.db, { account: accounts[2], member: "b2", now: clock.now(), leaseMs: 60_000 });
    const answers = await callDeliveryChannel(client(), backend.url, envelope(accounts[2], content), content);
    expect(answers[0]).toMatchObject({ status: "redirect", owner: "b2", code: 451 });
    expect(await stored()).toBe(0);
  });

  it("a store under a lost epoch writes nothing", async () => {
    const account = accounts[0];
    const held = await acquireAccountLease(tdb.storage.db, { account, member: "b1", now: clock.now(), leaseMs: 60_000 });
    if (held.kind !== "held") throw new Error("expected to hold the lease");
    clock.advance(60_000);
    await acquireAccountLease(tdb.storage.db, { account, member: "b9", now: clock.now(), leaseMs: 60_000 });
    const res = await storeMessage(tdb.storage.db, {
      account,
      queueMessageId: nextId++,
      epoch: held.epoch,
      member: "b1",
      folder: "INBOX",
      flags: [],
      content: rawMessage("late"),
      sender: null,
      subject: null,
      internalDate: clock.now(),
      quotaBytes: null,
    });
    expect(res).toEqual({ kind: "lease-lost", owner: "b9" });
    expect(await stored()).toBe(0);
  });
});
