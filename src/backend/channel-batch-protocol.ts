import { type ChannelAnswer, type ChannelEnvelope, ChannelFormatError, isObject, MAX_RECIPIENTS, positiveInt, validateEnvelope } from "./channel-protocol.ts";

/**
 * The batch path of the delivery channel: every message one backend must store from a
 * claimed batch, in ONE request.
 *
 * ```
 * POST /cluster/v2/deliver
 * x-mailcluster-timestamp, -nonce, -member, -target, -signature   (channel-auth.ts)
 *
 * {"items":[{<ChannelEnvelope>, "sha256":"<hex of its content>"}, …]}\n
 * <content of item 0: exactly items[0].size bytes><content of item 1>…   (nothing after)
 * ```
 *
 * The signature covers the SHA-256 of the header line (without its newline) and the header
 * lists each content's SHA-256, so the receiver authenticates after reading at most
 * MAX_HEADER_BYTES and before reading any content, then checks each content as it arrives.
 * The contents follow back to back in binary: the sender streams them from the buffers it
 * already has, the receiver reads each into a buffer of its exact size.
 *
 * The answer is the v1 one, `{ answers: ChannelAnswer[] }`, with one answer per (recipient id,
 * account) of every item; recipient ids are globally unique, so that pair is the key.
 *
 * Errors. The request fails as a whole (400, nothing written) when its framing is wrong: the
 * header is not such JSON, an item's size, digest or recipient keys are unusable, a key
 * repeats, or bytes follow the last item. An item that is framed correctly but wrong itself
 * gets its own answers and the others are delivered: a malformed envelope (553 5.1.7 sender,
 * 553 5.1.3 account, else 554 5.5.4), a message over max_message_bytes (552 5.3.4), a content
 * that does not match its digest (451 4.3.0, corrupted in transit), a body that ends inside
 * an item (that one and the rest: 451 4.4.2).
 */
export const BATCH_PATH = "/cluster/v2/deliver";

/** The header line: envelopes only, so a batch of thousands of recipients stays well under it. */
export const MAX_HEADER_BYTES = 1024 * 1024;
export const MAX_ITEMS = 5_000;

export interface ItemRefusal {
  status: "temporary" | "permanent";
  code: number;
  enhanced: string;
  text: string;
}

export interface BatchItem {
  /** Byte length of this item's content in the body. */
  size: number;
  sha256: string;
  /** The answer keys, known even when the rest of the envelope is unusable. */
  keys: Array<{ id: number; account: string }>;
  /** Null when `problem` says why the envelope is refused. */
  envelope: ChannelEnvelope | null;
  problem: ItemRefusal | null;
}

export function encodeBatchHeader(items: Array<{ envelope: ChannelEnvelope; sha256: string }>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ items: items.map((i) => ({ ...i.envelope, sha256: i.sha256 })) }));
}

function envelopeProblem(err: unknown): ItemRefusal {
  if (!(err instanceof ChannelFormatError)) throw err;
  const text = `malformed envelope: ${err.message}`;
  if (err.field === "sender") return { status: "permanent", code: 553, enhanced: "5.1.7", text };
  if (err.field === "account") return { status: "permanent", code: 553, enhanced: "5.1.3", text };
  return { status: "permanent", code: 554, enhanced: "5.5.4", text };
}

/** Parse the header line; throws ChannelFormatError when the framing is unusable. */
export function parseBatchHeader(line: Uint8Array): BatchItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(line));
  } catch {
    throw new ChannelFormatError("batch header is not valid JSON");
  }
  if (!isObject(parsed) || !Array.isArray(parsed.items)) throw new ChannelFormatError('batch header must be {"items":[...]}');
  const items: unknown[] = parsed.items;
  if (items.length === 0) throw new ChannelFormatError("batch has no items");
  if (items.length > MAX_ITEMS) throw new ChannelFormatError(`batch has more than ${MAX_ITEMS} items`);
  const seen = new Set<string>();
  let recipients = 0;
  return items.map((raw, i): BatchItem => {
    if (!isObject(raw)) throw new ChannelFormatError(`items[${i}] must be an object`);
    const size = positiveInt(raw.size, `items[${i}].size`);
    const sha256 = raw.sha256;
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) throw new ChannelFormatError(`items[${i}].sha256 must be 64 hex digits`);
    if (!Array.isArray(raw.recipients) || raw.recipients.length === 0) throw new ChannelFormatError(`items[${i}].recipients must be a non-empty array`);
    recipients += raw.recipients.length;
    if (recipients > MAX_RECIPIENTS) throw new ChannelFormatError(`batch has more than ${MAX_RECIPIENTS} recipients`);
    const keys = raw.recipients.map((r: unknown, j: number) => {
      const where = `items[${i}].recipients[${j}]`;
      if (!isObject(r) || typeof r.account !== "string" || r.account.length > 512) throw new ChannelFormatError(`${where} needs an id and an account`);
      const key = { id: positiveInt(r.id, `${where}.id`), account: r.account };
      const k = `${key.id}\0${key.account}`;
      if (seen.has(k)) throw new ChannelFormatError(`${where}: recipient ${key.id} for ${key.account} appears twice`);
      seen.add(k);
      return key;
    });
    try {
      return { size, sha256, keys, envelope: validateEnvelope(raw), problem: null };
    } catch (err) {
      return { size, sha256, keys, envelope: null, problem: envelopeProblem(err) };
    }
  });
}

export function refuseItem(item: BatchItem, r: ItemRefusal): ChannelAnswer[] {
  return item.keys.map((k) => ({ id: k.id, account: k.account, status: r.status, code: r.code, enhanced: r.enhanced, text: r.text }));
}
