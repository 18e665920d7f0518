import type { AppContext } from "../app-context.ts";
import { sha256Hex, signRequest } from "../backend/channel-auth.ts";
import { BATCH_PATH, encodeBatchHeader, MAX_HEADER_BYTES, MAX_ITEMS } from "../backend/channel-batch-protocol.ts";
import { type ChannelAnswer, type ChannelEnvelope, DELIVER_PATH, encodeRequest, MAX_RECIPIENTS, validateAnswers } from "../backend/channel-protocol.ts";
import { coerceError } from "../util/errors.ts";

/** The call did not produce per-recipient answers (unreachable, refused, garbled). */
export class ChannelCallError extends Error {
  override name = "ChannelCallError";
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

export interface ChannelItem {
  envelope: ChannelEnvelope;
  content: Uint8Array;
}

const TIMEOUT_MS = 120_000;
const encoder = new TextEncoder();
const DIGEST_PLACEHOLDER = "0".repeat(64);

async function post(baseUrl: string, path: string, headers: Record<string, string>, body: Uint8Array | ReadableStream<Uint8Array>): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(new URL(path, baseUrl), {
      method: "POST",
      headers: { ...headers, "content-type": "application/octet-stream" },
      body,
      // A stream body is sent as it is read (Node's fetch requires saying so).
      ...(body instanceof ReadableStream ? { duplex: "half" as const } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ChannelCallError(`backend at ${baseUrl} unreachable: ${coerceError(err).message}`, null);
  }
  return { status: res.status, text: await res.text().catch(() => "") };
}

function answersOf(baseUrl: string, r: { status: number; text: string }): ChannelAnswer[] {
  if (r.status !== 200) throw new ChannelCallError(`backend at ${baseUrl} answered ${r.status}: ${r.text.slice(0, 200)}`, r.status);
  try {
    return validateAnswers(JSON.parse(r.text));
  } catch (err) {
    throw new ChannelCallError(`backend at ${baseUrl} sent an unreadable answer: ${coerceError(err).message}`, r.status);
  }
}

/** POST one message with its recipients to a backend's delivery channel (v1 path), signed. */
export async function callDeliveryChannel(ctx: AppContext, baseUrl: string, envelope: ChannelEnvelope, content: Uint8Array): Promise<ChannelAnswer[]> {
  const body = encodeRequest(envelope, content);
  const headers = await signRequest(await ctx.clusterSecret.get(), { method: "POST", path: DELIVER_PATH, digest: sha256Hex(body), now: ctx.clock.now(), member: ctx.config.memberName, target: null });
  return answersOf(baseUrl, await post(baseUrl, DELIVER_PATH, headers, body));
}

/**
 * Up to this many bytes a request goes as one buffer with a Content-Length: one copy of a small
 * batch is cheaper than a chunked stream, which costs a socket write (and its framing) per part.
 */
const COALESCE_BYTES = 1024 * 1024;

/**
 * The header line, then each content: one buffer for a small batch, else a stream of the
 * contents as they are (no concatenated copy of a big batch).
 */
function bodyOf(header: Uint8Array, contents: Uint8Array[]): Uint8Array | ReadableStream<Uint8Array> {
  const parts = [header, new Uint8Array([0x0a]), ...contents];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  if (total <= COALESCE_BYTES) {
    const out = new Uint8Array(total);
    parts.reduce((at, p) => (out.set(p, at), at + p.byteLength), 0);
    return out;
  }
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < parts.length) controller.enqueue(parts[next++]);
      else controller.close();
    },
  });
}

/**
 * Split only when one request would pass the cluster's limits (request bytes, header size,
 * items, recipients): normally a backend's whole group goes in one request.
 */
function requestsOf(items: ChannelItem[], maxBytes: number): ChannelItem[][] {
  const out: ChannelItem[][] = [];
  let current: ChannelItem[] = [];
  const frame = 17; // {"items":[ … ]} and the newline
  let bytes = frame;
  let headerBytes = frame;
  let recipients = 0;
  for (const item of items) {
    // Its share of the header line exactly (the digest is always 64 hex digits), plus a comma.
    const head = encoder.encode(JSON.stringify({ ...item.envelope, size: item.content.byteLength, sha256: DIGEST_PLACEHOLDER })).byteLength + 1;
    const full =
      current.length > 0 &&
      (bytes + head + item.content.byteLength > maxBytes || headerBytes + head > MAX_HEADER_BYTES || current.length >= MAX_ITEMS || recipients + item.envelope.recipients.length > MAX_RECIPIENTS);
    if (full) {
      out.push(current);
      current = [];
      bytes = headerBytes = frame;
      recipients = 0;
    }
    current.push(item);
    bytes += head + item.content.byteLength;
    headerBytes += head;
    recipients += item.envelope.recipients.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Deliver several messages to one backend in ONE signed request (the v2 batch path,
 * channel-batch-protocol.ts): contents streamed from the buffers given, one answer per
 * (recipient id, account) of every item; a key the backend left unanswered comes back
 * temporary. A request-level failure throws ChannelCallError (the caller defers the group).
 *
 * `target` is the backend's member name: the signature is then bound to it, so the request
 * is refused by any other member it is played to (replays are refused anyway, by nonce).
 * A backend of the previous version has no batch path (404): the group then goes message by
 * message over v1, so a rolling upgrade keeps delivering.
 */
export async function callDeliveryChannelBatch(ctx: AppContext, url: string, items: ChannelItem[], options: { target?: string } = {}): Promise<ChannelAnswer[]> {
  if (items.length === 0) return [];
  const requests = requestsOf(items, ctx.settings().delivery_channel_max_bytes);
  return (await Promise.all(requests.map((group) => callOnce(ctx, url, group, options.target ?? "")))).flat();
}

async function callOnce(ctx: AppContext, url: string, items: ChannelItem[], target: string): Promise<ChannelAnswer[]> {
  const header = encodeBatchHeader(items.map((i) => ({ envelope: { ...i.envelope, size: i.content.byteLength }, sha256: sha256Hex(i.content) })));
  const headers = await signRequest(await ctx.clusterSecret.get(), { method: "POST", path: BATCH_PATH, digest: sha256Hex(header), now: ctx.clock.now(), member: ctx.config.memberName, target });
  const res = await post(url, BATCH_PATH, headers, bodyOf(header, items.map((i) => i.content)));
  if (res.status === 404) {
    ctx.metrics.inc("mailcluster_channel_v1_fallbacks_total", "Batches sent message by message to a backend without the batch path");
    return (await Promise.all(items.map((i) => callDeliveryChannel(ctx, url, i.envelope, i.content)))).flat();
  }
  const answers = answersOf(url, res);
  const byKey = new Map(answers.map((a) => [`${a.id}\0${a.account}`, a]));
  return items.flatMap((i) =>
    i.envelope.recipients.map(
      (r): ChannelAnswer =>
        byKey.get(`${r.id}\0${r.account}`) ?? { id: r.id, account: r.account, status: "temporary", code: 451, enhanced: "4.3.0", text: `backend at ${url} sent no answer for this recipient` },
    ),
  );
}
