import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { date, num, queryRows, str } from "../../../src/db/rows.ts";
import { claimRecipients } from "../../../src/queue/claim.ts";
import { recordOutcomes } from "../../../src/queue/record-outcomes.ts";
import { submitMessage } from "../../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, call, issuePaths, items } from "../../helpers/admin-app.ts";

const policy = { initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 5 * 86400 };
const noJitter = { next: () => 0.5 };
const body = new TextEncoder().encode("Subject: q\r\n\r\nq\r\n");

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];

async function submit(rcpts: string[], sender = "s@origin.test"): Promise<number> {
  const r = await submitMessage(tdb.storage.db, {
    envelope: { sender, recipients: rcpts.map((address) => ({ address })) },
    content: body,
    submittedBy: "m1",
    processor: null,
    now: clock.now(),
  });
  return r.messageId;
}

async function states(messageId: number): Promise<Record<string, string>> {
  const rows = await queryRows(tdb.storage.db, sql`SELECT address, state FROM recipients WHERE message_id = ${messageId} ORDER BY id`);
  return Object.fromEntries(rows.map((r) => [str(r.address), str(r.state)]));
}

async function message(messageId: number): Promise<{ pending: number; done: Date | null } | null> {
  const [m] = await queryRows(tdb.storage.db, sql`SELECT pending_recipients, done_at FROM messages WHERE id = ${messageId}`);
  return m ? { pending: num(m.pending_recipients), done: m.done_at === null ? null : date(m.done_at) } : null;
}

const claim = (member = "w1") => claimRecipients(tdb.storage.db, { member, includePool: true, limit: 100, leaseMs: 60_000, now: clock.now() });

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, clock } = adminApp(tdb.storage.db));
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`TRUNCATE messages, recipients, attempts RESTART IDENTITY CASCADE`);
});

describe("queue listing", () => {
  it("lists pending items with filters, shows one message, 404/400 otherwise", async () => {
    const a = await submit(["x@one.test", "y@two.test"]);
    await submit(["z@two.test"]);
    expect(items((await call(app, "GET", "/queue")).body)).toHaveLength(3);
    const two = items((await call(app, "GET", "/queue?domain=TWO.test")).body);
    expect(two.map((i) => i.address)).toEqual(["y@two.test", "z@two.test"]);
    expect(items((await call(app, "GET", "/queue?state=held")).body)).toHaveLength(0);
    expect(items((await call(app, "GET", "/queue?limit=1")).body)).toHaveLength(1);
    expect(issuePaths((await call(app, "GET", "/queue?state=lost")).body)).toEqual(["state"]);
    expect(issuePaths((await call(app, "GET", "/queue?limit=0")).body)).toEqual(["limit"]);

    const shown = await call(app, "GET", `/queue/${a}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ message: { id: a, sender: "s@origin.test", pendingRecipients: 2 }, recipients: [{ address: "x@one.test" }, { address: "y@two.test" }], attempts: [] });
    expect((await call(app, "GET", "/queue/99999")).status).toBe(404);
    expect(issuePaths((await call(app, "GET", "/queue/abc")).body)).toEqual(["id"]);

    const summary = items((await call(app, "GET", "/queue/summary")).body);
    expect(summary.map((s) => [s.domain, s.queued, s.messages])).toEqual([["one.test", 1, 1], ["two.test", 2, 2]]);
  });
});

describe("hold, release, retry", () => {
  it("a held message is never claimed; release makes it due now", async () => {
    const id = await submit(["a@one.test", "b@one.test"]);
    const held = await call(app, "POST", `/queue/${id}/hold`);
    expect(held.body).toEqual({ action: "hold", id, recipients: 2, messages: 1 });
    expect(await states(id)).toEqual({ "a@one.test": "held", "b@one.test": "held" });
    expect(await claim()).toHaveLength(0);
    clock.advance(60_000);
    expect((await call(app, "POST", `/queue/${id}/release`)).body).toMatchObject({ recipients: 2 });
    const [r] = await queryRows(tdb.storage.db, sql`SELECT min(next_attempt_at) AS t FROM recipients WHERE message_id = ${id}`);
    expect(date(r.t).getTime()).toBe(clock.now().getTime());
    expect(await claim()).toHaveLength(2);
    // Releasing what is not held changes nothing.
    expect((await call(app, "POST", `/queue/${id}/release`)).body).toMatchObject({ recipients: 0 });
  });

  it("retry makes deferred recipients due now but leaves in-flight ones to their worker", async () => {
    const id = await submit(["a@one.test", "b@one.test"]);
    await tdb.storage.db.execute(sql`UPDATE recipients SET next_attempt_at = next_attempt_at + interval '1 hour' WHERE address = 'a@one.test'`);
    const [inFlight] = await claim(); // takes b (a is not due)
    expect(inFlight.address).toBe("b@one.test");
    const r = await call(app, "POST", `/queue/${id}/retry`);
    expect(r.body).toEqual({ action: "retry", id, recipients: 1, messages: 1 });
    const rows = await queryRows(tdb.storage.db, sql`SELECT address, next_attempt_at, locked_by FROM recipients WHERE message_id = ${id} ORDER BY id`);
    expect(date(rows[0].next_attempt_at).getTime()).toBe(clock.now().getTime());
    expect(rows[1].locked_by).toBe("w1");
    expect((await claim("w2")).map((x) => x.address)).toEqual(["a@one.test"]);
  });

  it("bad ids and actions are 400 with the field, unknown ids 404, and change nothing", async () => {
    const id = await submit(["a@one.test"]);
    expect(issuePaths((await call(app, "POST", `/queue/${id}/explode`)).body)).toEqual(["action"]);
    expect(issuePaths((await call(app, "POST", "/queue/-1/hold")).body)).toEqual(["id"]);
    expect((await call(app, "POST", "/queue/424242/hold")).status).toBe(404);
    expect(issuePaths((await call(app, "POST", "/queue/domain/not_a_domain/hold")).body)).toEqual(["domain"]);
    expect(await states(id)).toEqual({ "a@one.test": "queued" });
  });
});

describe("bounce", () => {
  it("fails pending recipients with 5.0.0, keeps pending_recipients and done_at right, logs attempts", async () => {
    const id = await submit(["ok@one.test", "b@one.test"]);
    const claimed = await claim();
    const ok = claimed.find((c) => c.address === "ok@one.test")!;
    await tdb.storage.db.execute(sql`UPDATE recipients SET locked_by = NULL, locked_until = NULL WHERE address = 'b@one.test'`);
    await recordOutcomes(tdb.storage.db, {
      member: "w1",
      results: [{ recipient: ok, outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 1 }],
      now: clock.now(),
      policy,
      random: noJitter,
    });
    expect(await message(id)).toEqual({ pending: 1, done: null });

    const r = await call(app, "POST", `/queue/${id}/bounce`);
    expect(r.body).toEqual({ action: "bounce", id, recipients: 1, messages: 1 });
    expect(await states(id)).toEqual({ "ok@one.test": "delivered", "b@one.test": "failed" });
    const [b] = await queryRows(tdb.storage.db, sql`SELECT last_code, last_status, last_text, final_at FROM recipients WHERE address = 'b@one.test'`);
    expect([num(b.last_code), b.last_status, b.last_text]).toEqual([550, "5.0.0", "bounced by administrator"]);
    expect(await message(id)).toEqual({ pending: 0, done: clock.now() });
    const att = await queryRows(tdb.storage.db, sql`SELECT address, member, outcome, enhanced_status FROM attempts WHERE message_id = ${id} ORDER BY id`);
    expect(att.map((a) => [a.address, a.member, a.outcome, a.enhanced_status])).toEqual([
      ["ok@one.test", "w1", "delivered", "2.0.0"],
      ["b@one.test", "admin", "failed", "5.0.0"],
    ]);
    // Nothing left to bounce.
    expect((await call(app, "POST", `/queue/${id}/bounce`)).body).toMatchObject({ recipients: 0 });
    expect(await message(id)).toEqual({ pending: 0, done: clock.now() });
  });

  it("a recipient bounced mid-delivery: the worker's late outcome is discarded, counters stay right", async () => {
    const id = await submit(["a@one.test"]);
    const [inFlight] = await claim();
    await call(app, "POST", `/queue/${id}/bounce`);
    const late = await recordOutcomes(tdb.storage.db, {
      member: "w1",
      results: [{ recipient: inFlight, outcome: { kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } }, startedAt: clock.now(), durationMs: 1 }],
      now: clock.now(),
      policy,
      random: noJitter,
    });
    expect(late.lost).toEqual([inFlight.id]);
    expect(await states(id)).toEqual({ "a@one.test": "failed" });
    expect(await message(id)).toMatchObject({ pending: 0 });
  });
});

describe("delete", () => {
  it("by id removes the message, its body and recipients; attempts history stays", async () => {
    const id = await submit(["a@one.test", "b@two.test"]);
    await call(app, "POST", `/queue/${id}/bounce`);
    const r = await call(app, "DELETE", `/queue/${id}`);
    expect(r.body).toEqual({ action: "delete", id, recipients: 0, messages: 1 });
    expect(await message(id)).toBeNull();
    expect(num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM message_bodies`))[0].n)).toBe(0);
    expect(num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM attempts`))[0].n)).toBe(2);
    expect((await call(app, "DELETE", `/queue/${id}`)).status).toBe(404);
  });
});

describe("by domain", () => {
  it("hold, release, retry and bounce touch only that domain's pending recipients", async () => {
    const m1 = await submit(["a@one.test", "b@two.test"]);
    const m2 = await submit(["c@two.test"]);
    expect((await call(app, "POST", "/queue/domain/TWO.test/hold")).body).toEqual({ action: "hold", domain: "two.test", recipients: 2, messages: 2 });
    expect(await states(m1)).toEqual({ "a@one.test": "queued", "b@two.test": "held" });
    expect((await claim()).map((c) => c.address)).toEqual(["a@one.test"]);
    expect((await call(app, "POST", "/queue/domain/two.test/release")).body).toMatchObject({ recipients: 2 });
    expect((await call(app, "POST", "/queue/domain/two.test/retry")).body).toMatchObject({ recipients: 2 });
    expect((await call(app, "POST", "/queue/domain/two.test/bounce")).body).toMatchObject({ recipients: 2, messages: 2 });
    expect(await message(m1)).toEqual({ pending: 1, done: null });
    expect(await message(m2)).toEqual({ pending: 0, done: clock.now() });
    expect((await call(app, "POST", "/queue/domain/nothing-here.test/bounce")).body).toMatchObject({ recipients: 0, messages: 0 });
  });

  it("delete drops the domain's recipients, keeps other recipients, removes emptied messages", async () => {
    const mixed = await submit(["a@one.test", "b@two.test"]);
    const only = await submit(["c@two.test", "d@two.test"]);
    const r = await call(app, "POST", "/queue/domain/two.test/delete");
    expect(r.body).toEqual({ action: "delete", domain: "two.test", recipients: 3, messages: 2 });
    expect(await states(mixed)).toEqual({ "a@one.test": "queued" });
    expect(await message(mixed)).toEqual({ pending: 1, done: null });
    expect(await message(only)).toBeNull();
  });

  it("delete of the last pending recipient leaves a done message behind its final ones", async () => {
    const id = await submit(["a@one.test", "b@two.test"]);
    await call(app, "POST", "/queue/domain/one.test/bounce");
    await call(app, "POST", "/queue/domain/two.test/delete");
    expect(await message(id)).toEqual({ pending: 0, done: clock.now() });
    expect(await states(id)).toEqual({ "a@one.test": "failed" });
  });
});
