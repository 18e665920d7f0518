/**
 * The delivery channel's wire format, shared by the backend (server) and the queue side
 * (client). Two paths:
 *
 * - v1, `POST /cluster/v1/deliver`: one message. The body is one line of JSON (the
 *   envelope), a newline, then the raw message: the content stays binary and a short read is
 *   detectable from `size`. The signature covers the SHA-256 of the whole body. Kept so that
 *   members of the previous version can still send to this one during a rolling upgrade.
 * - v2, `POST /cluster/v2/deliver`: a batch, one request per backend (channel-batch-protocol.ts).
 */

export const DELIVER_PATH = "/cluster/v1/deliver";

export interface ChannelRecipient {
  /** Queue recipient id (recipients.id); an alias expanding to several accounts repeats it. */
  id: number;
  /** The account to deliver to (already resolved from aliases by the sender). */
  account: string;
  orcpt: string | null;
  notify: string | null;
}

export interface ChannelEnvelope {
  /** Queue message id: the idempotency key of the store (one copy per account). */
  messageId: number;
  sender: string;
  envid: string | null;
  ret: string | null;
  /** The message was submitted by an authenticated client. */
  authenticated: boolean;
  /** Byte length of the raw message that follows the envelope line. */
  size: number;
  recipients: ChannelRecipient[];
}

/** 2xx stored, 4xx temporary, 5xx permanent, or "the account is open on another backend". */
export type AnswerStatus = "stored" | "temporary" | "permanent" | "redirect";

export interface ChannelAnswer {
  id: number;
  account: string;
  status: AnswerStatus;
  code: number;
  enhanced: string;
  text: string;
  /** With status "redirect": the member that holds the account. */
  owner?: string;
}

/** Which envelope field was wrong, where a precise reply code exists for it. */
export type EnvelopeField = "sender" | "account" | "other";

export class ChannelFormatError extends Error {
  override name = "ChannelFormatError";
  constructor(
    message: string,
    readonly field: EnvelopeField = "other",
  ) {
    super(message);
  }
}

const MAX_ENVELOPE_BYTES = 1024 * 1024;
export const MAX_RECIPIENTS = 10_000;

export function encodeRequest(envelope: ChannelEnvelope, content: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(envelope) + "\n");
  const out = new Uint8Array(head.byteLength + content.byteLength);
  out.set(head, 0);
  out.set(content, head.byteLength);
  return out;
}

/** Parse and validate a request body; throws ChannelFormatError with the reason. */
export function decodeRequest(body: Uint8Array): { envelope: ChannelEnvelope; content: Uint8Array } {
  const nl = body.subarray(0, MAX_ENVELOPE_BYTES + 1).indexOf(0x0a);
  if (nl < 0) throw new ChannelFormatError("no envelope line (expected JSON, a newline, then the message)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body.subarray(0, nl)));
  } catch {
    throw new ChannelFormatError("envelope is not valid JSON");
  }
  const envelope = validateEnvelope(parsed);
  const content = body.subarray(nl + 1);
  if (content.byteLength !== envelope.size) {
    throw new ChannelFormatError(`message truncated or padded: envelope says ${envelope.size} bytes, got ${content.byteLength}`);
  }
  return { envelope, content };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nullableString(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") throw new ChannelFormatError(`${what} must be a string or null`);
  return v;
}

export function positiveInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ChannelFormatError(`${what} must be a non-negative integer`);
  return v;
}

export function validateEnvelope(v: unknown): ChannelEnvelope {
  if (!isObject(v)) throw new ChannelFormatError("envelope must be a JSON object");
  const messageId = positiveInt(v.messageId, "messageId");
  if (typeof v.sender !== "string" || v.sender.length > 512) throw new ChannelFormatError("sender must be a string of at most 512 characters", "sender");
  const size = positiveInt(v.size, "size");
  if (!Array.isArray(v.recipients) || v.recipients.length === 0) throw new ChannelFormatError("recipients must be a non-empty array");
  if (v.recipients.length > MAX_RECIPIENTS) throw new ChannelFormatError(`too many recipients (at most ${MAX_RECIPIENTS})`);
  const recipients = v.recipients.map((r: unknown, i: number): ChannelRecipient => {
    if (!isObject(r)) throw new ChannelFormatError(`recipients[${i}] must be an object`);
    const account = r.account;
    if (typeof account !== "string" || !/^[^@\s]+@[^@\s]+$/.test(account) || account.length > 512) {
      throw new ChannelFormatError(`recipients[${i}].account must be an address`, "account");
    }
    return { id: positiveInt(r.id, `recipients[${i}].id`), account, orcpt: nullableString(r.orcpt, `recipients[${i}].orcpt`), notify: nullableString(r.notify, `recipients[${i}].notify`) };
  });
  if (v.authenticated !== undefined && typeof v.authenticated !== "boolean") throw new ChannelFormatError("authenticated must be a boolean");
  return {
    messageId,
    sender: v.sender,
    envid: nullableString(v.envid, "envid"),
    ret: nullableString(v.ret, "ret"),
    authenticated: v.authenticated === true,
    size,
    recipients,
  };
}

/** The response body: `{ answers: ChannelAnswer[] }`. Validated by the client before use. */
export function validateAnswers(v: unknown): ChannelAnswer[] {
  if (!isObject(v) || !Array.isArray(v.answers)) throw new ChannelFormatError("response must be { answers: [...] }");
  return v.answers.map((a: unknown, i: number): ChannelAnswer => {
    if (!isObject(a)) throw new ChannelFormatError(`answers[${i}] must be an object`);
    const status = a.status;
    if (status !== "stored" && status !== "temporary" && status !== "permanent" && status !== "redirect") {
      throw new ChannelFormatError(`answers[${i}].status is unknown`);
    }
    if (typeof a.account !== "string" || typeof a.text !== "string" || typeof a.enhanced !== "string") {
      throw new ChannelFormatError(`answers[${i}] lacks account, enhanced or text`);
    }
    const owner = typeof a.owner === "string" ? a.owner : undefined;
    if (status === "redirect" && !owner) throw new ChannelFormatError(`answers[${i}] redirects to no owner`);
    return { id: positiveInt(a.id, `answers[${i}].id`), account: a.account, status, code: positiveInt(a.code, `answers[${i}].code`), enhanced: a.enhanced, text: a.text, owner };
  });
}
