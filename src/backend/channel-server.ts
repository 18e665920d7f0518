import type { Context, Hono } from "hono";
import type { AppContext } from "../app-context.ts";
import { coerceError } from "../util/errors.ts";
import { type ChannelAuth, checkAuthHeaders, MEMBER_HEADER, sha256Hex, verifySignature } from "./channel-auth.ts";
import { BATCH_PATH, type BatchItem, type ItemRefusal, MAX_HEADER_BYTES, parseBatchHeader, refuseItem } from "./channel-batch-protocol.ts";
import { BodyReadError, BodyReader, BodyTooLarge } from "./channel-body.ts";
import { UnauthenticatedGate } from "./channel-gate.ts";
import { Sha256 } from "./sha256-stream.ts";
import { ChannelNonces } from "./channel-nonces.ts";
import { type ChannelAnswer, type ChannelEnvelope, ChannelFormatError, decodeRequest, DELIVER_PATH } from "./channel-protocol.ts";

/** What the channel needs from the backend: one message, and (when it has it) a whole batch. */
export interface ChannelDelivery {
  deliver(envelope: ChannelEnvelope, content: Uint8Array): Promise<ChannelAnswer[]>;
  deliverBatch?(items: Array<{ envelope: ChannelEnvelope; content: Uint8Array }>): Promise<ChannelAnswer[]>;
}

/**
 * Requests reading unauthenticated bytes at once. A batch request is authenticated after its
 * header line (at most MAX_HEADER_BYTES each, so 8 of them hold at most 8 MiB); a v1 request
 * only after its whole body, hence a budget of declared bytes on that legacy path (small
 * messages pass many at a time, a large one alone).
 */
const BATCH_HEADER_READERS = { slots: 8, bytes: Number.MAX_SAFE_INTEGER };
const LEGACY_BODY_READERS = { slots: 64, bytes: 16 * 1024 * 1024 };
/** A v1 body is one message and its envelope line (decodeRequest allows 1 MiB for that). */
const LEGACY_ENVELOPE_BYTES = 1024 * 1024;
const SMALL_BODY_BYTES = 64 * 1024;

const TRUNCATED: ItemRefusal = { status: "temporary", code: 451, enhanced: "4.4.2", text: "request body ended inside this message (truncated in transit)" };
const CORRUPTED: ItemRefusal = { status: "temporary", code: 451, enhanced: "4.3.0", text: "message content does not match its digest (corrupted in transit)" };

class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 413 | 500 | 503,
    message: string,
  ) {
    super(message);
  }
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

/**
 * The backend's delivery channel: POST /cluster/v2/deliver (a batch) and /cluster/v1/deliver
 * (one message; kept for members of the previous version during a rolling upgrade — new
 * senders use v2 and fall back to v1 only when a backend answers 404).
 *
 * Both check, before reading a byte of the body, that the timestamp is fresh and the
 * signature, nonce and target headers are well formed; refuse a declared length over the
 * limit; and take a slot of a small pool for reading unauthenticated bytes (503 when none is
 * free). The nonce of an authenticated request is recorded in the database: a replay is
 * refused by every member and after a restart. Every refusal names its reason and writes
 * nothing.
 */
export function mountDeliveryChannel(ctx: AppContext, secret: () => Promise<string>, delivery: ChannelDelivery): (app: Hono) => void {
  const me = ctx.config.memberName;
  const nonces = new ChannelNonces(ctx.db, me);
  const headerGate = new UnauthenticatedGate(BATCH_HEADER_READERS);
  const legacyGate = new UnauthenticatedGate(LEGACY_BODY_READERS);

  const refused = (c: Context, path: string, r: Refusal, from: string): Response => {
    ctx.metrics.inc("mailcluster_channel_refused_total", "Delivery-channel requests refused", { status: String(r.status) });
    ctx.logger.warn({ from, reason: r.message, path }, `delivery channel: request refused (${r.status})`);
    // After a refusal with a large body (or one of unknown length) still coming, the connection
    // is closed rather than drained: this member does not take in what it refused. (A sender
    // still writing may then see a reset instead of the answer; it retries either way.)
    const declared = Number(c.req.header("content-length") ?? NaN);
    const close = !(declared <= SMALL_BODY_BYTES);
    const headers: Record<string, string> = { ...(close ? { connection: "close" } : {}), ...(r.status === 503 ? { "retry-after": "1" } : {}) };
    return json(r.status, { error: r.status === 401 ? `unauthorized: ${r.message}` : r.message }, headers);
  };

  /** Header checks, length, and a gate slot: all before the body. */
  const admit = (c: Context, gate: UnauthenticatedGate, legacy: boolean): { auth: ChannelAuth; release: () => void; maxBytes: number; windowMs: number } => {
    const s = ctx.settings();
    const windowMs = s.delivery_channel_window_seconds * 1000;
    const check = checkAuthHeaders((n) => c.req.header(n), { now: ctx.clock.now(), windowMs, me });
    if (!check.ok) throw new Refusal(401, check.reason);
    // v1 carries one message: no legitimate body is larger than that, so nobody gets to make
    // this member hold more than one message's worth of unauthenticated bytes there.
    const maxBytes = legacy ? Math.min(s.delivery_channel_max_bytes, s.max_message_bytes + LEGACY_ENVELOPE_BYTES) : s.delivery_channel_max_bytes;
    const header = c.req.header("content-length");
    const declared = header !== undefined && /^\d{1,16}$/.test(header) ? Number(header) : null;
    if (declared !== null && declared > maxBytes) throw new Refusal(413, `request larger than ${maxBytes} bytes`);
    // The batch path holds only its header line before authenticating; v1 the whole body.
    const release = gate.tryEnter(legacy ? (declared ?? maxBytes) : 0);
    if (!release) throw new Refusal(503, "too many unauthenticated requests in progress; retry");
    return { auth: check.auth, release, maxBytes, windowMs };
  };

  const authenticate = async (path: string, auth: ChannelAuth, target: string | null, digest: string, windowMs: number): Promise<void> => {
    if (!(await verifySignature(await secret(), "POST", path, auth, target, digest))) throw new Refusal(401, "wrong signature");
    let fresh: boolean;
    try {
      fresh = await nonces.accept({ nonce: auth.nonce, sender: auth.member, timestampMs: auth.timestampMs, nowMs: ctx.clock.now().getTime(), windowMs });
    } catch (err) {
      throw new Refusal(503, `could not record the request nonce: ${coerceError(err).message}`);
    }
    if (!fresh) throw new Refusal(401, "replayed request");
  };

  const readFailure = (err: unknown): Refusal => {
    if (err instanceof Refusal) return err;
    if (err instanceof BodyTooLarge) return new Refusal(413, err.message);
    if (err instanceof ChannelFormatError || err instanceof BodyReadError) return new Refusal(400, err.message);
    return new Refusal(500, `internal error: ${coerceError(err).message}`);
  };

  const deliverAll = async (items: Array<{ envelope: ChannelEnvelope; content: Uint8Array }>): Promise<ChannelAnswer[]> => {
    if (items.length === 0) return [];
    if (delivery.deliverBatch) return delivery.deliverBatch(items);
    return (await Promise.all(items.map((i) => delivery.deliver(i.envelope, i.content)))).flat();
  };

  /** v2: header line → authenticate → each content into its own buffer → deliver the good ones. */
  const serveBatch = async (c: Context): Promise<Response> => {
    const from = c.req.header(MEMBER_HEADER) ?? "?";
    let body: BodyReader | null = null;
    try {
      const { auth, release, maxBytes, windowMs } = admit(c, headerGate, false);
      let line: Uint8Array | null;
      try {
        body = BodyReader.of(c.req.raw.body, maxBytes);
        line = await body.readLine(MAX_HEADER_BYTES);
      } finally {
        release();
      }
      if (!line) throw new Refusal(400, `no batch header line (JSON, then a newline) within ${MAX_HEADER_BYTES} bytes`);
      await authenticate(BATCH_PATH, auth, auth.target, sha256Hex(line), windowMs);
      const items = parseBatchHeader(line);
      const declaredTotal = items.reduce((n, i) => n + i.size, line.byteLength + 1);
      if (declaredTotal > maxBytes) throw new Refusal(413, `batch of ${declaredTotal} bytes is larger than ${maxBytes} bytes`);
      const { answers, ready } = await readItems(body, items, ctx.settings().max_message_bytes);
      const good: Array<{ envelope: ChannelEnvelope; content: Uint8Array }> = [];
      for (const r of ready) {
        if (r.digest !== r.item.sha256) answers.push(...refuseItem(r.item, CORRUPTED));
        else if (r.item.envelope) good.push({ envelope: r.item.envelope, content: r.content });
      }
      answers.push(...(await deliverAll(good)));
      ctx.metrics.inc("mailcluster_channel_batches_total", "Delivery-channel batch requests answered");
      ctx.metrics.inc("mailcluster_channel_batch_messages_total", "Messages received in delivery-channel batches", {}, items.length);
      return json(200, { answers });
    } catch (err) {
      const r = readFailure(err);
      if (r.status === 413 && body) await body.cancel();
      return refused(c, BATCH_PATH, r, from);
    }
  };

  /** v1: the whole body is needed to authenticate; read it under the legacy cap. */
  const serveSingle = async (c: Context): Promise<Response> => {
    const from = c.req.header(MEMBER_HEADER) ?? "?";
    let body: BodyReader | null = null;
    try {
      const { auth, release, maxBytes, windowMs } = admit(c, legacyGate, true);
      let raw: Uint8Array;
      const hash = new Sha256();
      try {
        body = BodyReader.of(c.req.raw.body, maxBytes);
        raw = await readAll(body, c.req.header("content-length"), hash);
      } finally {
        release();
      }
      await authenticate(DELIVER_PATH, auth, null, hash.hex(), windowMs);
      const decoded = decodeRequest(raw);
      return json(200, { answers: await delivery.deliver(decoded.envelope, decoded.content) });
    } catch (err) {
      const r = readFailure(err);
      if (r.status === 413 && body) await body.cancel();
      return refused(c, DELIVER_PATH, r, from);
    }
  };

  return (app) => {
    app.post(BATCH_PATH, serveBatch);
    app.post(DELIVER_PATH, serveSingle);
  };
}

interface ReadyItem {
  item: BatchItem;
  content: Uint8Array;
  /** Hashed while it streamed in. */
  digest: string;
}

/**
 * The contents, in header order. Refused items are skipped without being kept; a body that
 * ends early refuses the item it ended in and every later one; bytes after the last item are
 * a framing error (thrown, so nothing is delivered).
 */
async function readItems(body: BodyReader, items: BatchItem[], maxMessageBytes: number): Promise<{ answers: ChannelAnswer[]; ready: ReadyItem[] }> {
  const answers: ChannelAnswer[] = [];
  const ready: ReadyItem[] = [];
  let truncated = false;
  for (const item of items) {
    if (truncated) {
      answers.push(...refuseItem(item, TRUNCATED));
      continue;
    }
    const tooBig = item.size > maxMessageBytes;
    if (item.problem || tooBig) {
      if ((await body.skip(item.size)) < item.size) truncated = true;
      const refusal = item.problem ?? { status: "permanent", code: 552, enhanced: "5.3.4", text: `message of ${item.size} bytes is larger than the ${maxMessageBytes} bytes allowed` };
      answers.push(...refuseItem(item, refusal));
      continue;
    }
    const content = new Uint8Array(item.size);
    const hash = new Sha256();
    if ((await body.readInto(content, hash)) < item.size) {
      truncated = true;
      answers.push(...refuseItem(item, TRUNCATED));
      continue;
    }
    ready.push({ item, content, digest: hash.hex() });
  }
  if (!truncated && !(await body.atEnd())) throw new ChannelFormatError("bytes after the last message of the batch");
  return { answers, ready };
}

/** The whole body, into one buffer of the declared length when there is one. */
async function readAll(body: BodyReader, declared: string | undefined, hash: Sha256): Promise<Uint8Array> {
  const length = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
  if (length !== null) {
    const out = new Uint8Array(length);
    const got = await body.readInto(out, hash);
    if (!(await body.atEnd())) throw new ChannelFormatError("body longer than its content-length");
    return got === length ? out : out.subarray(0, got);
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const part = new Uint8Array(64 * 1024);
    const got = await body.readInto(part, hash);
    if (got === 0) break;
    parts.push(part.subarray(0, got));
    total += got;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
