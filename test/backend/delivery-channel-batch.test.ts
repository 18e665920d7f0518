import { connect } from "node:net";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { NONCE_HEADER, SIGNATURE_HEADER, sha256Hex, signRequest, TARGET_HEADER, TIMESTAMP_HEADER } from "../../src/backend/channel-auth.ts";
import { BATCH_PATH, encodeBatchHeader } from "../../src/backend/channel-batch-protocol.ts";
import { DELIVER_PATH, type ChannelEnvelope } from "../../src/backend/channel-protocol.ts";
import { callDeliveryChannelBatch, ChannelCallError } from "../../src/delivery/channel-client.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { channelEnvelope, count, createAccounts, rawMessage, startBackend, testContext, type TestBackend } from "../helpers/backends.ts";

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Send a request head and `sent` body bytes of a body announced as `announced` bytes long,
 * and never send the rest: an answer arrives only if the server decided without the body.
 */
function partialPost(url: string, path: string, headers: Record<string, string>, announced: number, sent: Uint8Array): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let text = "";
    socket.on("connect", () => {
      const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, `content-length: ${announced}`, "content-type: application/octet-stream", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
      socket.write(head);
      socket.write(sent);
    });
    socket.on("data", (d) => {
      text += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on("error", reject);
  });
}

describe("delivery channel batches (real PostgreSQL, real HTTP)", () => {
  let tdb: TestDatabase;
  let b1: TestBackend;
  let b2: TestBackend;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let accounts: string[];
  let nextMessage = 5000;
  let nextRecipient = 1;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    // Static homes: b1 owns every account, so b2 answers for them with a redirect at most.
    accounts = await createAccounts(tdb.storage, 4, "b1");
    const settings = { delivery_channel_max_bytes: 256 * 1024, max_message_bytes: 32 * 1024 };
    b1 = await startBackend(tdb.storage, "b1", clock, { settings });
    b2 = await startBackend(tdb.storage, "b2", clock, { settings });
  });
  afterAll(async () => {
    await b1.stop();
    await b2.stop();
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`DELETE FROM mailbox_messages`);
  });

  const stored = () => count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`);
  const nonces = () => count(tdb.storage, sql`SELECT count(*)::int AS n FROM channel_nonces`);
  const client = () => testContext(tdb.storage, "sender", clock);
  const item = (accountList: string[], subject: string) => {
    const content = rawMessage(subject);
    const envelope = channelEnvelope(nextMessage++, accountList, content, nextRecipient);
    nextRecipient += accountList.length;
    return { envelope, content };
  };
  /** A batch body by hand: the header line as given, then the contents. */
  const rawBatch = async (line: Uint8Array, contents: Uint8Array[], target = "") => {
    const secret = await b1.ctx.clusterSecret.get();
    const headers = await signRequest(secret, { method: "POST", path: BATCH_PATH, digest: sha256Hex(line), now: clock.now(), member: "sender", target });
    return { headers, body: concat([line, enc.encode("\n"), ...contents]) };
  };
  const headerOf = async (items: Array<{ envelope: ChannelEnvelope; content: Uint8Array }>) =>
    encodeBatchHeader(items.map((i) => ({ envelope: i.envelope, sha256: sha256Hex(i.content) })));
  const post = async (url: string, r: { headers: Record<string, string>; body: Uint8Array }, path = BATCH_PATH) => {
    const res = await fetch(url + path, { method: "POST", headers: r.headers, body: r.body });
    return { status: res.status, text: await res.text() };
  };

  it("several messages for several accounts go in one request and get an answer each", async () => {
    const items = [item([accounts[0], accounts[1]], "batch one"), item([accounts[2]], "batch two"), item([accounts[3], accounts[0]], "batch three")];
    const before = await nonces();
    const answers = await callDeliveryChannelBatch(client(), b1.url, items, { target: "b1" });
    // One request = one recorded nonce.
    expect(await nonces()).toBe(before + 1);
    const expected = items.flatMap((i) => i.envelope.recipients.map((r) => [r.id, r.account, "stored", 250]));
    expect(answers.map((a) => [a.id, a.account, a.status, a.code])).toEqual(expected);
    expect(await stored()).toBe(5);
    const subjects = await count(tdb.storage, sql`SELECT count(DISTINCT subject)::int AS n FROM mailbox_messages`);
    expect(subjects).toBe(3);
  });

  it("a group larger than the request limit is split into as few requests as fit", async () => {
    const items = Array.from({ length: 10 }, (_, n) => {
      const i = item([accounts[n % 4]], `split ${n}`);
      i.content = rawMessage(`split ${n}`, [], "z".repeat(30 * 1024));
      i.envelope = { ...i.envelope, size: i.content.byteLength };
      return i;
    });
    const before = await nonces();
    const sender = testContext(tdb.storage, "sender", clock, { delivery_channel_max_bytes: 256 * 1024 });
    const answers = await callDeliveryChannelBatch(sender, b1.url, items, { target: "b1" });
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill("stored"));
    // 10 × ~30 KiB = ~300 KiB over a 256 KiB limit: two requests.
    expect(await nonces()).toBe(before + 2);
    expect(await stored()).toBe(10);
  });

  it("one bad message of a batch fails alone: malformed envelope, too big, corrupted, truncated", async () => {
    const good = item([accounts[0]], "good");
    const badAccount = item([accounts[1]], "bad account");
    const tooBig = { ...item([accounts[2]], "big") };
    tooBig.content = rawMessage("big", [], "x".repeat(40 * 1024));
    tooBig.envelope = { ...tooBig.envelope, size: tooBig.content.byteLength };
    const corrupted = item([accounts[3]], "corrupted");
    const alsoGood = item([accounts[1]], "also good");
    const items = [good, badAccount, tooBig, corrupted, alsoGood];
    const header = await headerOf(items);
    const parsed = JSON.parse(new TextDecoder().decode(header)) as { items: Array<Record<string, unknown>> };
    parsed.items[1].recipients = [{ id: badAccount.envelope.recipients[0].id, account: "not an address" }];
    const wire = items.map((i) => i.content);
    wire[3] = enc.encode(new TextDecoder().decode(corrupted.content).replace("hello", "HELLO"));
    const r = await post(b1.url, await rawBatch(enc.encode(JSON.stringify(parsed)), wire));
    expect(r.status).toBe(200);
    const answers = (JSON.parse(r.text) as { answers: Array<{ id: number; status: string; code: number; enhanced: string }> }).answers;
    const byId = new Map(answers.map((a) => [a.id, [a.status, a.code, a.enhanced]]));
    expect(byId.get(good.envelope.recipients[0].id)).toEqual(["stored", 250, "2.0.0"]);
    expect(byId.get(badAccount.envelope.recipients[0].id)).toEqual(["permanent", 553, "5.1.3"]);
    expect(byId.get(tooBig.envelope.recipients[0].id)).toEqual(["permanent", 552, "5.3.4"]);
    expect(byId.get(corrupted.envelope.recipients[0].id)).toEqual(["temporary", 451, "4.3.0"]);
    expect(byId.get(alsoGood.envelope.recipients[0].id)).toEqual(["stored", 250, "2.0.0"]);
    expect(answers).toHaveLength(5);
    expect(await stored()).toBe(2);

    // A body that ends inside the second message: the first is stored, the second deferred.
    const first = item([accounts[2]], "before the cut");
    const cut = item([accounts[3]], "cut");
    const short = await rawBatch(await headerOf([first, cut]), [first.content, cut.content.subarray(0, 10)]);
    const t = await post(b1.url, short);
    expect(t.status).toBe(200);
    const tAnswers = (JSON.parse(t.text) as { answers: Array<{ id: number; status: string; enhanced: string }> }).answers;
    expect(tAnswers.find((a) => a.id === first.envelope.recipients[0].id)).toMatchObject({ status: "stored" });
    expect(tAnswers.find((a) => a.id === cut.envelope.recipients[0].id)).toMatchObject({ status: "temporary", enhanced: "4.4.2" });
    expect(await stored()).toBe(3);
  });

  it("broken framing → 400 with the reason, nothing written", async () => {
    const a = item([accounts[0]], "framing a");
    const b = { ...item([accounts[1]], "framing b") };
    b.envelope = { ...b.envelope, recipients: [{ ...b.envelope.recipients[0], id: a.envelope.recipients[0].id, account: accounts[0] }] };
    const goodHeader = await headerOf([a]);
    const noDigest = enc.encode(JSON.stringify({ items: [{ ...a.envelope }] }));
    const cases: Array<[Uint8Array, Uint8Array[], string]> = [
      [enc.encode("this is not a batch"), [], "not valid JSON"],
      [enc.encode(JSON.stringify({ items: [] })), [], "no items"],
      [enc.encode(JSON.stringify({ messages: [] })), [], "batch header must be"],
      [noDigest, [a.content], "sha256"],
      [enc.encode(JSON.stringify({ items: [{ ...a.envelope, size: -1, sha256: "0".repeat(64) }] })), [], "size"],
      [await headerOf([a, b]), [a.content, b.content], "appears twice"],
      [goodHeader, [a.content, enc.encode("trailing")], "bytes after the last message"],
    ];
    for (const [line, contents, reason] of cases) {
      const r = await post(b1.url, await rawBatch(line, contents));
      expect([r.status, r.text]).toEqual([400, expect.stringContaining(reason)]);
    }
    // No newline at all within the header limit is framing too (read before authentication).
    const none = await post(b1.url, { headers: (await rawBatch(enc.encode("x"), [])).headers, body: enc.encode("no newline here") });
    expect(none.status).toBe(400);
    expect(await stored()).toBe(0);
  });

  it("the whole batch over the request limit → 413 before its contents are read", async () => {
    const big = item([accounts[0]], "huge");
    const header = enc.encode(JSON.stringify({ items: [{ ...big.envelope, size: 300 * 1024, sha256: "0".repeat(64) }] }));
    const r = await rawBatch(header, []);
    // Only the header is sent: a 413 here means the contents were never waited for.
    const status = await partialPost(b1.url, BATCH_PATH, r.headers, header.byteLength + 1 + 300 * 1024, concat([header, enc.encode("\n")]));
    expect(status).toBe(413);
    expect(await stored()).toBe(0);
  });

  it("missing, stale or malformed authentication is refused before the body is read", async () => {
    const secret = await b1.ctx.clusterSecret.get();
    const fresh = await signRequest(secret, { method: "POST", path: BATCH_PATH, digest: "0".repeat(64), now: clock.now(), member: "x", target: "" });
    const stale = await signRequest(secret, { method: "POST", path: BATCH_PATH, digest: "0".repeat(64), now: new Date(clock.now().getTime() - 120_000), member: "x", target: "" });
    const chunk = enc.encode("x".repeat(1024));
    const announced = 200 * 1024;
    for (const path of [BATCH_PATH, DELIVER_PATH]) {
      expect(await partialPost(b1.url, path, {}, announced, chunk)).toBe(401);
      expect(await partialPost(b1.url, path, stale, announced, chunk)).toBe(401);
      expect(await partialPost(b1.url, path, { ...fresh, [SIGNATURE_HEADER]: "not-hex" }, announced, chunk)).toBe(401);
      expect(await partialPost(b1.url, path, { ...fresh, [TIMESTAMP_HEADER]: "soon" }, announced, chunk)).toBe(401);
      expect(await partialPost(b1.url, path, { ...fresh, [NONCE_HEADER]: "" }, announced, chunk)).toBe(401);
      expect(await partialPost(b1.url, path, { ...fresh, [TARGET_HEADER]: "b9" }, announced, chunk)).toBe(401);
    }
    // Well-formed but forged, on the batch path: refused once the header line is in, the
    // contents never waited for.
    const forged = { ...fresh, [SIGNATURE_HEADER]: "ab".repeat(32) };
    expect(await partialPost(b1.url, BATCH_PATH, forged, announced, enc.encode(JSON.stringify({ items: [] }) + "\n"))).toBe(401);
    // A request declared over the limit is refused on its length alone.
    expect(await partialPost(b1.url, DELIVER_PATH, fresh, 10 * 1024 * 1024, chunk)).toBe(413);
    expect(await stored()).toBe(0);
  });

  it("unauthenticated readers are capped: beyond the cap → 503 without reading", async () => {
    const gated = await startBackend(tdb.storage, "b-gate", clock);
    const secret = await b1.ctx.clusterSecret.get();
    const v1 = await signRequest(secret, { method: "POST", path: DELIVER_PATH, digest: "0".repeat(64), now: clock.now(), member: "x", target: null });
    const v2 = await signRequest(secret, { method: "POST", path: BATCH_PATH, digest: "0".repeat(64), now: clock.now(), member: "x", target: "" });
    const { hostname, port } = new URL(gated.url);
    const hold = (path: string, headers: Record<string, string>, length: number) =>
      new Promise<ReturnType<typeof connect>>((resolve) => {
        const s = connect({ host: hostname, port: Number(port) });
        s.on("connect", () => s.write([`POST ${path} HTTP/1.1`, "host: x", `content-length: ${length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", "x"].join("\r\n"), () => resolve(s)));
      });
    // Until the server has taken the held requests, a complete probe is read and refused 401.
    const probeUntil503 = async (path: string, headers: Record<string, string>) => {
      const probe = enc.encode("y".repeat(100));
      let status = 0;
      for (let i = 0; i < 200 && status !== 503; i++) status = await partialPost(gated.url, path, headers, probe.byteLength, probe);
      return status;
    };
    const held: Array<ReturnType<typeof connect>> = [];
    try {
      // v1: a 20 MiB body that never finishes is let in alone, and fills the byte budget.
      held.push(await hold(DELIVER_PATH, v1, 20 * 1024 * 1024));
      expect(await probeUntil503(DELIVER_PATH, v1)).toBe(503);
      // v2: eight header lines that never end take every header slot.
      for (let i = 0; i < 8; i++) held.push(await hold(BATCH_PATH, v2, 1024 * 1024));
      expect(await probeUntil503(BATCH_PATH, v2)).toBe(503);
    } finally {
      for (const s of held) s.destroy();
      await gated.stop();
    }
  });

  it("a replay is refused by every member and after a restart; a request bound to one member is refused by another", async () => {
    const one = item([accounts[0]], "replayed");
    const request = await rawBatch(await headerOf([one]), [one.content]);
    expect((await post(b1.url, request)).status).toBe(200);
    const again = await post(b2.url, request);
    expect([again.status, again.text]).toEqual([401, expect.stringContaining("replayed")]);
    expect((await post(b1.url, request)).status).toBe(401);

    // The same for the single-message path.
    const secret = await b1.ctx.clusterSecret.get();
    const v1Body = concat([enc.encode(JSON.stringify({ ...one.envelope, messageId: nextMessage++ }) + "\n"), one.content]);
    const v1 = { headers: await signRequest(secret, { method: "POST", path: DELIVER_PATH, digest: sha256Hex(v1Body), now: clock.now(), member: "x", target: null }), body: v1Body };
    expect((await post(b2.url, v1, DELIVER_PATH)).status).toBe(200);
    expect((await post(b1.url, v1, DELIVER_PATH)).status).toBe(401);

    // b1 restarts (new process memory, same database): still refused.
    await b1.stop();
    b1 = await startBackend(tdb.storage, "b1", clock, { settings: { delivery_channel_max_bytes: 256 * 1024, max_message_bytes: 32 * 1024 } });
    const afterRestart = await post(b1.url, request);
    expect([afterRestart.status, afterRestart.text]).toEqual([401, expect.stringContaining("replayed")]);

    // Bound to b1: b2 refuses it even though its nonce is new.
    const bound = item([accounts[1]], "bound");
    const forB1 = await rawBatch(await headerOf([bound]), [bound.content], "b1");
    const elsewhere = await post(b2.url, forB1);
    expect([elsewhere.status, elsewhere.text]).toEqual([401, expect.stringContaining("signed for member b1")]);
    // Changing the target header breaks the signature.
    expect((await post(b2.url, { ...forB1, headers: { ...forB1.headers, [TARGET_HEADER]: "b2" } })).status).toBe(401);
    expect((await post(b1.url, forB1)).status).toBe(200);
    expect(await stored()).toBe(2);
  });

  it("nonces older than two replay windows are purged", async () => {
    expect(await nonces()).toBeGreaterThan(0);
    clock.advance(3 * 60_000);
    const one = item([accounts[2]], "after purge");
    await callDeliveryChannelBatch(client(), b2.url, [one]);
    // b2 purges on its first request of a window: only the request just made is left.
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM channel_nonces WHERE expires_at < ${clock.now().toISOString()}::timestamptz`)).toBe(0);
    expect(await nonces()).toBe(1);
  });

  it("a backend without the batch path (previous version) gets the batch message by message", async () => {
    // An "old" member: only the v1 path, passed through to b1.
    const old = new Hono();
    let v1Calls = 0;
    old.post(DELIVER_PATH, async (c) => {
      v1Calls += 1;
      const res = await fetch(b1.url + DELIVER_PATH, { method: "POST", headers: c.req.raw.headers, body: await c.req.arrayBuffer() });
      return new Response(await res.text(), { status: res.status, headers: { "content-type": "application/json" } });
    });
    const runtime = await detectRuntime();
    const server = await runtime.serveHttp(old.fetch, { port: 0, hostname: "127.0.0.1" });
    try {
      const items = [item([accounts[0]], "old one"), item([accounts[1]], "old two")];
      const answers = await callDeliveryChannelBatch(client(), `http://127.0.0.1:${server.port}`, items);
      expect(answers.map((a) => a.status)).toEqual(["stored", "stored"]);
      expect(v1Calls).toBe(2);
      expect(await stored()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("a request-level refusal is a ChannelCallError (the caller defers the group)", async () => {
    const outsider = testContext(tdb.storage, "outsider", clock, {}, "a-different-secret-entirely");
    await expect(callDeliveryChannelBatch(outsider, b1.url, [item([accounts[0]], "outsider")])).rejects.toBeInstanceOf(ChannelCallError);
    expect(await stored()).toBe(0);
  });

  it("member header is recorded with the nonce", async () => {
    await callDeliveryChannelBatch(client(), b1.url, [item([accounts[3]], "who")], { target: "b1" });
    const rows = await count(tdb.storage, sql`SELECT count(*)::int AS n FROM channel_nonces WHERE sender = 'sender' AND receiver = 'b1'`);
    expect(rows).toBeGreaterThan(0);
  });
});
