import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { accountDomainFilter } from "../../src/cli/commands/account.ts";
import { queueAction, queueContent, queueFlush, queueList, queueTarget } from "../../src/cli/commands/queue.ts";
import { dbSettings, parseSettingValue, settingsList, settingsReset, settingsSet } from "../../src/cli/commands/settings.ts";
import { dbQueue } from "../../src/cli/queue-source.ts";
import { settingDescriptions } from "../../src/cli/setting-descriptions.ts";
import { DEFAULT_SETTINGS } from "../../src/cluster/settings.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { adminApp, call } from "../helpers/admin-app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;
const T0 = new Date(Date.UTC(2026, 5, 1, 12, 0, 0));

function collector(): { out: (l: string) => void; lines: string[]; json: () => unknown } {
  const lines: string[] = [];
  return { out: (l) => lines.push(l), lines, json: (): unknown => JSON.parse(lines.join("\n")) };
}

async function submit(sender: string, rcpts: string[], content = "Subject: q\r\n\r\nq\r\n", at = T0): Promise<number> {
  const r = await submitMessage(tdb.storage.db, {
    envelope: { sender, recipients: rcpts.map((address) => ({ address })) },
    content: new TextEncoder().encode(content),
    submittedBy: "t",
    processor: null,
    now: at,
  });
  return r.messageId;
}

async function recipientStates(): Promise<string[]> {
  const rows = await queryRows(tdb.storage.db, sql`SELECT address, state, next_attempt_at FROM recipients ORDER BY id`);
  return rows.map((r) => `${str(r.address)}:${str(r.state)}`);
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`TRUNCATE messages, recipients, attempts RESTART IDENTITY CASCADE`);
});

describe("queue list", () => {
  it("is compact by default: one line per message, each recipient underneath after its last reply", async () => {
    const a = await submit("alice@origin.test", ["bob@dest.test", "carol@other.test"], "Subject: a\r\n\r\n" + "x".repeat(2000) + "\r\n");
    const b = await submit("", ["dan@dest.test"], "Subject: b\r\n\r\nb\r\n", new Date(T0.getTime() + 61_000));
    await tdb.storage.db.execute(
      sql`UPDATE recipients SET attempts = 1, last_code = 451, last_status = '4.4.1', last_text = 'connection refused' WHERE address = 'carol@other.test'`,
    );
    await queueAction(dbQueue(tdb.storage.db), "hold", { messageId: b }, false, collector().out);
    const [sizeA, sizeB] = (await queryRows(tdb.storage.db, sql`SELECT size_bytes FROM messages ORDER BY id`)).map((r) => num(r.size_bytes));
    const c = collector();
    await queueList(dbQueue(tdb.storage.db), {}, c.out, T0);
    const pad = " ".repeat(42);
    expect(c.lines).toEqual([
      "-Queue ID- --Size-- ----Arrival Time----  -Sender/Recipient-------",
      `${String(a).padEnd(10)} ${String(sizeA).padStart(8)} 2026-06-01 12:00:00Z  alice@origin.test`,
      `${pad}bob@dest.test`,
      `${pad}(451 4.4.1 connection refused)`,
      `${pad}carol@other.test`,
      "",
      `${`${b}!`.padEnd(10)} ${String(sizeB).padStart(8)} 2026-06-01 12:01:01Z  <>`,
      `${pad}(held)`,
      `${pad}dan@dest.test`,
      "",
      `-- ${Math.ceil((sizeA + sizeB) / 1024)} Kbytes in 2 Requests.`,
    ]);
    // A message being delivered right now is marked like Postfix's active queue.
    await tdb.storage.db.execute(sql`UPDATE recipients SET locked_by = 'w1', locked_until = ${new Date(T0.getTime() + 60_000).toISOString()}::timestamptz WHERE address = 'bob@dest.test'`);
    const active = collector();
    await queueList(dbQueue(tdb.storage.db), { domain: "dest.test" }, active.out, T0);
    expect(active.lines[1]).toMatch(new RegExp(`^${a}\\* `));
    expect(active.lines.filter((l) => l.includes("@"))).toHaveLength(3);
  });

  it("keeps --json's shape (the table's rows) and the full table under --table", async () => {
    const id = await submit("s@origin.test", ["r@dest.test"]);
    const j = collector();
    await queueList(dbQueue(tdb.storage.db), { json: true }, j.out);
    const rows = j.json() as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0])).toEqual(["id", "recipient", "sender", "state", "attempts", "queued", "next_attempt", "locked_by", "last_reply"]);
    expect(rows[0]).toMatchObject({ id, recipient: "r@dest.test", sender: "s@origin.test", state: "queued", attempts: 0, locked_by: null, last_reply: null, queued: T0.toISOString() });
    const t = collector();
    await queueList(dbQueue(tdb.storage.db), { table: true }, t.out);
    expect(t.lines.join("\n")).toMatch(/│ id\s+│ recipient\s+│ sender\s+│ state\s+│ attempts/);
    const empty = collector();
    await tdb.storage.db.execute(sql`TRUNCATE messages, recipients RESTART IDENTITY CASCADE`);
    await queueList(dbQueue(tdb.storage.db), {}, empty.out);
    expect(empty.lines).toEqual(["Mail queue is empty"]);
  });

  it("--domain '*' lists every domain; another wildcard or a bad flag is refused", async () => {
    await submit("s@origin.test", ["a@one.test", "b@two.test"]);
    const all = collector();
    await queueList(dbQueue(tdb.storage.db), { domain: "*", json: true }, all.out);
    expect(all.json()).toHaveLength(2);
    await expect(queueList(dbQueue(tdb.storage.db), { domain: "*.test" }, collector().out)).rejects.toThrow(/--domain "\*\.test" is not a domain/);
    await expect(queueList(dbQueue(tdb.storage.db), { json: true, table: true }, collector().out)).rejects.toThrow(/--json or --table, not both/);
    await expect(queueList(dbQueue(tdb.storage.db), { limit: "0" }, collector().out)).rejects.toThrow(/--limit must be 1-10000/);
    expect(accountDomainFilter("*")).toBeUndefined();
    expect(accountDomainFilter(" one.test ")).toBe("one.test");
    expect(() => accountDomainFilter("*.test")).toThrow(/is not a domain/);
  });
});

describe("queue actions on the whole queue", () => {
  it("flush makes every queued recipient due now and leaves held ones held", async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await submit("s@origin.test", ["a@one.test", "b@two.test"]);
    const held = await submit("s@origin.test", ["c@three.test"]);
    await tdb.storage.db.execute(sql`UPDATE recipients SET next_attempt_at = ${later}::timestamptz`);
    await queueAction(dbQueue(tdb.storage.db), "hold", { messageId: held }, false, collector().out);
    const c = collector();
    await queueFlush(dbQueue(tdb.storage.db), false, c.out);
    expect(c.lines).toEqual(["flush: 2 recipient(s) of 1 message(s) due now"]);
    const due = await queryRows(tdb.storage.db, sql`SELECT address FROM recipients WHERE next_attempt_at <= now() ORDER BY address`);
    expect(due.map((r) => r.address)).toEqual(["a@one.test", "b@two.test"]);
    expect(await recipientStates()).toEqual(["a@one.test:queued", "b@two.test:queued", "c@three.test:held"]);
  });

  it("delete --all is refused without --yes (nothing changes) and empties the queue with it", async () => {
    await submit("s@origin.test", ["a@one.test", "b@two.test"]);
    await submit("s@origin.test", ["c@three.test"]);
    expect(() => queueTarget(undefined, { all: true }, "delete")).toThrow(/queue delete --all removes every pending recipient without notice; add --yes to confirm/);
    expect(() => queueTarget(undefined, { all: true }, "bounce")).toThrow(/add --yes to confirm/);
    expect(() => queueTarget("1", { all: true, yes: true }, "delete")).toThrow(/not several/);
    expect(queueTarget(undefined, { all: true }, "hold")).toEqual({ all: true });
    expect(await recipientStates()).toHaveLength(3);
    const c = collector();
    await queueAction(dbQueue(tdb.storage.db), "delete", queueTarget(undefined, { all: true, yes: true }, "delete"), true, c.out);
    expect(c.json()).toEqual({ action: "delete", all: true, recipients: 3, messages: 2 });
    expect(await recipientStates()).toEqual([]);
    expect(await queryRows(tdb.storage.db, sql`SELECT id FROM messages`)).toEqual([]);
  });

  it("--domain '*' is refused for every action, by the CLI and by the queue itself", async () => {
    await submit("s@origin.test", ["a@one.test"]);
    for (const action of ["retry", "hold", "release", "bounce", "delete"] as const) {
      expect(() => queueTarget(undefined, { domain: "*" }, action)).toThrow(/--domain "\*" is not a domain: use --all/);
    }
    await expect(queueAction(dbQueue(tdb.storage.db), "hold", { domain: "*" }, false, collector().out)).rejects.toThrow(/"\*" is not a domain/);
    expect(await recipientStates()).toEqual(["a@one.test:queued"]);
  });
});

describe("queue show --content", () => {
  it("writes the raw message byte for byte; an unknown id is an error", async () => {
    const content = "From: a@origin.test\r\nSubject: raw ä\r\n\r\nline 1\r\nline 2\r\n";
    const id = await submit("a@origin.test", ["r@dest.test"], content);
    const chunks: Uint8Array[] = [];
    await queueContent(dbQueue(tdb.storage.db), String(id), (b) => chunks.push(b));
    expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe(content);
    await expect(queueContent(dbQueue(tdb.storage.db), "999999", () => {})).rejects.toThrow(/no content for queue message 999999/);
    await expect(queueContent(dbQueue(tdb.storage.db), "x1", () => {})).rejects.toThrow(/invalid queue id "x1"/);
  });
});

describe("admin API: flush, the whole queue, raw content", () => {
  it("answers like the CLI and refuses a whole-queue delete without ?confirm=all", async () => {
    const { app } = adminApp(tdb.storage.db);
    const id = await submit("s@origin.test", ["a@one.test", "b@two.test"], "Subject: api\r\n\r\nbody\r\n");
    expect(await call(app, "POST", "/queue/flush")).toMatchObject({ status: 200, body: { action: "flush", recipients: 2, messages: 1 } });
    const raw = await app.request(`/api/v1/queue/${id}/raw`, { headers: { authorization: "Bearer test-admin-token-0123456789abcdef" } });
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toBe("message/rfc822");
    expect(await raw.text()).toBe("Subject: api\r\n\r\nbody\r\n");
    expect(await call(app, "GET", "/queue/999999/raw")).toMatchObject({ status: 404 });
    expect(await call(app, "POST", "/queue/all/delete")).toMatchObject({ status: 400, body: { error: "delete of every pending recipient needs ?confirm=all" } });
    expect(await call(app, "POST", "/queue/all/bounce?confirm=yes")).toMatchObject({ status: 400 });
    expect(await call(app, "POST", "/queue/domain/*/hold")).toMatchObject({ status: 400 });
    expect(await recipientStates()).toEqual(["a@one.test:queued", "b@two.test:queued"]);
    expect(await call(app, "POST", "/queue/all/hold")).toMatchObject({ status: 200, body: { action: "hold", all: true, recipients: 2 } });
    expect(await call(app, "POST", "/queue/all/delete?confirm=all")).toMatchObject({ status: 200, body: { recipients: 2, messages: 1 } });
    expect(await recipientStates()).toEqual([]);
  });
});

describe("settings", () => {
  it("--changed shows only values that differ from the default; every row has its meaning", async () => {
    const s = dbSettings(tdb.storage.db);
    const none = collector();
    await settingsList(s, { changed: true }, none.out);
    expect(none.lines).toEqual(["(every setting has its default)"]);
    await settingsSet(s, "retry_initial_seconds", "600", collector().out);
    // Stored, but equal to the default: --changed lists differences from the defaults, not stored rows.
    await settingsSet(s, "max_recipients", String(DEFAULT_SETTINGS.max_recipients), collector().out);
    const changed = collector();
    await settingsList(s, { changed: true, json: true }, changed.out);
    expect(changed.json()).toEqual([{ key: "retry_initial_seconds", value: "600", default: "300", description: "First retry after a temporary failure." }]);
    const all = collector();
    await settingsList(s, { json: true }, all.out);
    const rows = all.json() as Array<{ key: string; description: string }>;
    expect(rows.map((r) => r.key)).toEqual(Object.keys(DEFAULT_SETTINGS));
    expect(rows.find((r) => r.key === "queue_lifetime_seconds")?.description).toBe("A recipient still undelivered after this long fails (4.4.7).");
    const table = collector();
    await settingsList(s, {}, table.out);
    expect(table.lines.join("\n")).toMatch(/│ key\s+│ value\s+│ default\s+│ description/);
    await settingsReset(s, "retry_initial_seconds", collector().out);
    const after = collector();
    await settingsList(s, { changed: true }, after.out);
    expect(after.lines).toEqual(["(every setting has its default)"]);
  });

  it("refuses unknown keys and values of the wrong type, changing nothing", async () => {
    const s = dbSettings(tdb.storage.db);
    await expect(settingsSet(s, "retry_initial", "5", collector().out)).rejects.toThrow(/unknown setting "retry_initial"/);
    await expect(settingsSet(s, "retry_initial_seconds", "\"soon\"", collector().out)).rejects.toThrow(/takes a number/);
    await expect(settingsReset(s, "nope", collector().out)).rejects.toThrow(/unknown setting "nope"/);
    expect(() => parseSettingValue("[1]")).toThrow(/number, true\/false or a string/);
    const changed = collector();
    await settingsList(s, { changed: true, json: true }, changed.out);
    expect(changed.json()).toEqual([]);
  });

  it("descriptions come from the doc comments above the defaults", () => {
    const d = settingDescriptions();
    expect(d.get("retry_max_seconds")).toBe("Backoff doubles up to this.");
    expect(d.get("primary_domain")).toMatch(/^The primary domain: `RCPT TO:<postmaster>` without a domain/);
    for (const key of Object.keys(DEFAULT_SETTINGS)) expect(d.has(key)).toBe(true);
  });
});
