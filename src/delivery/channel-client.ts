import type { AppContext } from "../app-context.ts";
import { signRequest } from "../backend/channel-auth.ts";
import { type ChannelAnswer, type ChannelEnvelope, DELIVER_PATH, encodeRequest, validateAnswers } from "../backend/channel-protocol.ts";
import { clusterSecret } from "../backend/cluster-secret.ts";
import { coerceError } from "../util/errors.ts";

/** The call did not produce per-recipient answers (unreachable, refused, garbled). */
export class ChannelCallError extends Error {
  override name = "ChannelCallError";
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

const TIMEOUT_MS = 120_000;

/** POST one message with its recipients to a backend's delivery channel, signed. */
export async function callDeliveryChannel(ctx: AppContext, baseUrl: string, envelope: ChannelEnvelope, content: Uint8Array): Promise<ChannelAnswer[]> {
  const body = encodeRequest(envelope, content);
  const headers = signRequest(await clusterSecret(ctx), "POST", DELIVER_PATH, body, ctx.clock.now(), ctx.config.memberName);
  let res: Response;
  try {
    res = await fetch(new URL(DELIVER_PATH, baseUrl), {
      method: "POST",
      headers: { ...headers, "content-type": "application/octet-stream" },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ChannelCallError(`backend at ${baseUrl} unreachable: ${coerceError(err).message}`, null);
  }
  const text = await res.text().catch(() => "");
  if (res.status !== 200) throw new ChannelCallError(`backend at ${baseUrl} answered ${res.status}: ${text.slice(0, 200)}`, res.status);
  try {
    return validateAnswers(JSON.parse(text));
  } catch (err) {
    throw new ChannelCallError(`backend at ${baseUrl} sent an unreadable answer: ${coerceError(err).message}`, res.status);
  }
}
