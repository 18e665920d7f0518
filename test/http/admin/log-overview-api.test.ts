import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attempts } from "../../../src/db/schema/index.ts";
import { recordQueueDepth } from "../../../src/queue/depth-history.ts";
import { submitMessage } from "../../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { adminApp, call, issuePaths, items, TOKEN } from "../../helpers/admin-app.ts";

let tdb: TestDatabase;
let app: ReturnType<typeof adminApp>["app"];
let clock: ReturnType<typeof adminApp>["clock"];
const ids: Record<string, number> = {};

async function message(key: string, header: string): Promise<void> {
  const r = await submitMessage(tdb.storage.db, {
    envelope: { sender: `${key}@sender.test`, recipients: [{ address: `${key}@far.test` }] },
    content: new TextEncoder().encode(`${header}\r\n\r\nbody\r\n`),
    submittedBy: "m1",
    processor: null,
    now: new Date(clock.now().getTime() - 30 * 60_000),
  });
  ids[key] = r.messageId;
  await tdb.storage.db.insert(attempts).values({
    messageId: r.messageId, recipientId: r.recipientIds[0], address: `${key}@far.test`, member: "m1", outcome: "deferred",
    replyCode: 451, enhancedStatus: "4.7.1", replyText: "try later", remoteHost: "mx.far.test", startedAt: new Date(clock.now().getTime() - 10 * 60_000), durationMs: 3,
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  ({ app, clock } = adminApp(tdb.storage.db));
  await message("invoice", "Subject: =?UTF-8?Q?Rechnung_M=C3=A4rz?= invoice 7\r\nMessage-ID: <inv-7@shop.test>");
  await message("percent", "Subject: 100% done\r\nMessage-ID: <p@x.test>");
  await message("plain", "Subject: hello");
  for (let i = 1; i <= 3; i++) {
    await recordQueueDepth(tdb.storage.db, new Date(clock.now().getTime() - i * 60_000), "m1", { queued: i, deferred: 2 * i, held: 0 });
  }
  // Outside the default hour: only a longer window shows it.
  await recordQueueDepth(tdb.storage.db, new Date(clock.now().getTime() - 3 * 3600_000), "m1", { queued: 9, deferred: 9, held: 9 });
});
afterAll(async () => {
  await tdb?.drop();
});

type LogItem = { messageId: number; subject: string | null; headerMessageId: string | null; sender: string | null };

describe("GET /api/v1/log", () => {
  it("searches by subject (decoded, case-insensitive, wildcards literal) and by Message-ID with or without <>", async () => {
    const bySubject = await call(app, "GET", `/log?subject=${encodeURIComponent("RECHNUNG März")}`);
    expect(bySubject.status).toBe(200);
    expect(items<LogItem>(bySubject.body).map((i) => [i.messageId, i.subject, i.headerMessageId])).toEqual([[ids.invoice, "Rechnung März invoice 7", "inv-7@shop.test"]]);
    expect(items<LogItem>((await call(app, "GET", "/log?subject=%25")).body).map((i) => i.messageId)).toEqual([ids.percent]);
    for (const q of ["inv-7@shop.test", "<inv-7@shop.test>", " <inv-7@shop.test> "]) {
      const r = await call(app, "GET", `/log?messageId=${encodeURIComponent(q)}`);
      expect(items<LogItem>(r.body).map((i) => i.messageId)).toEqual([ids.invoice]);
    }
    expect(items((await call(app, "GET", "/log?messageId=inv-7")).body)).toEqual([]);
    expect(items((await call(app, "GET", "/log")).body)).toHaveLength(3);
    expect(items<LogItem>((await call(app, "GET", `/log?queueId=${ids.plain}&outcome=deferred`)).body).map((i) => i.subject)).toEqual(["hello"]);
  });

  it("pages by ?before= in the listing's order, ties on the start time included", async () => {
    const all = items<{ id: number }>((await call(app, "GET", "/log")).body).map((i) => i.id);
    expect(all).toHaveLength(3);
    const seen: number[] = [];
    let before: number | null = null;
    for (let page = 0; page < 5; page++) {
      const r = await call(app, "GET", `/log?limit=2${before === null ? "" : `&before=${before}`}`);
      seen.push(...items<{ id: number }>(r.body).map((i) => i.id));
      before = (r.body as { next: number | null }).next;
      if (before === null) break;
    }
    expect(seen).toEqual(all);
  });

  it("the WebAdmin log links to the older page when one is full", async () => {
    const [first] = await tdb.storage.db.select().from(attempts).limit(1);
    const { id: _id, ...copy } = first;
    await tdb.storage.db.insert(attempts).values(Array.from({ length: 200 }, (_, i) => ({ ...copy, address: `bulk${i}@far.test`, startedAt: new Date(clock.now().getTime() - i * 1000) })));
    try {
      const page1 = await app.request("http://localhost/admin/log?recipient=bulk", { headers: { authorization: `Bearer ${TOKEN}` } });
      const text = await page1.text();
      const href = /<a href="([^"]+)" id="older">/.exec(text)?.[1].replace(/&amp;/g, "&");
      expect(href).toMatch(/^\/admin\/log\?recipient=bulk&before=\d+$/);
      const page2 = await (await app.request(`http://localhost${href}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(page2).toContain("No attempts match.");
      expect(page2).toContain(">newest</a>");
      expect(text).toContain("bulk0@far.test");
    } finally {
      await tdb.storage.db.execute(sql`DELETE FROM attempts WHERE address LIKE 'bulk%'`);
    }
  });

  it("bad input is a JSON 400 naming the field", async () => {
    const cases: Array<[string, string]> = [
      [`/log?subject=${"x".repeat(999)}`, "subject"],
      [`/log?messageId=${"x".repeat(999)}`, "messageId"],
      [`/log?sender=${"s".repeat(321)}`, "sender"],
      ["/log?from=yesterday", "from"],
      ["/log?from=2026-06-01T12:00&to=2026-06-01T11:00", "to"],
      ["/log?from=2026-06-01T12:00&to=2026-06-01T12:00", "to"],
      ["/log?limit=0", "limit"],
      ["/log?limit=1001", "limit"],
      ["/log?outcome=lost", "outcome"],
      ["/log?queueId=-1", "queueId"],
      ["/log?before=x", "before"],
    ];
    for (const [path, field] of cases) {
      const r = await call(app, "GET", path);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect(issuePaths(r.body)).toContain(field);
      expect(typeof (r.body as { error: unknown }).error).toBe("string");
    }
  });
});

describe("WebAdmin queue page", () => {
  it("filters by subject and shows it; an overlong subject is a 400", async () => {
    const get = (q: string) => app.request(`http://localhost/admin/queue?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await (await get("subject=rechnung")).text();
    expect(text).toContain("<td>invoice@far.test</td>");
    expect(text).toContain("<td>Rechnung März invoice 7</td>");
    expect(text).not.toContain("plain@far.test");
    expect(text).toContain("1–1 of 1");
    expect((await get(`subject=${"x".repeat(999)}`)).status).toBe(400);
  });
});

describe("GET /api/v1/overview", () => {
  it("answers the queue depth history of the window with the other overview figures", async () => {
    const r = await call(app, "GET", "/overview");
    expect(r.status).toBe(200);
    const body = r.body as { windowMinutes: number; counts: Record<string, number>; queueDepth: { sampleSeconds: number; samples: Array<{ at: string; queued: number; deferred: number; held: number }> }; recent: { topDeferrals: Array<{ count: number }>; perMember: Array<{ member: string }> } };
    expect(body.windowMinutes).toBe(60);
    expect(body.queueDepth.sampleSeconds).toBe(60);
    expect(body.queueDepth.samples.map((s) => [s.queued, s.deferred])).toEqual([[3, 6], [2, 4], [1, 2]]);
    expect(new Date(body.queueDepth.samples[0].at).getTime()).toBe(clock.now().getTime() - 3 * 60_000);
    expect(body.counts.queued).toBe(3);
    expect(body.recent.topDeferrals[0].count).toBe(3);
    expect(body.recent.perMember.map((m) => m.member)).toEqual(["m1"]);
    const day = (await call(app, "GET", "/overview?minutes=240")).body as typeof body;
    expect(day.queueDepth.samples).toHaveLength(4);
  });

  it("refuses a window outside 1 minute..24 hours", async () => {
    for (const q of ["0", "1441", "abc", "1.5"]) {
      const r = await call(app, "GET", `/overview?minutes=${q}`);
      expect(r.status).toBe(400);
      expect(issuePaths(r.body)).toEqual(["minutes"]);
    }
  });
});

describe("GET /api/v1/queue/:id", () => {
  it("shows the message's Subject and Message-ID", async () => {
    const r = await call(app, "GET", `/queue/${ids.invoice}`);
    expect((r.body as { message: { subject: string; headerMessageId: string } }).message).toMatchObject({ subject: "Rechnung März invoice 7", headerMessageId: "inv-7@shop.test" });
  });
});

describe("the database plan", () => {
  it("finds a message by Message-ID through its index", async () => {
    // Three rows would be read sequentially anyway; with sequential scans priced out the index must be usable.
    const plan = await tdb.storage.db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL enable_seqscan = off`);
      return tx.execute(sql`EXPLAIN SELECT id FROM messages WHERE header_message_id = 'inv-7@shop.test'`);
    });
    expect(JSON.stringify(plan)).toContain("messages_header_message_id_idx");
  });
});
