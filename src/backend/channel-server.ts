import type { Context, Hono } from "hono";
import type { AppContext } from "../app-context.ts";
import { coerceError } from "../util/errors.ts";
import { MEMBER_HEADER, NONCE_HEADER, ReplayGuard, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from "./channel-auth.ts";
import { ChannelFormatError, decodeRequest, DELIVER_PATH } from "./channel-protocol.ts";
import type { BackendDelivery } from "./deliver.ts";

class TooLarge extends Error {}

/** Read at most `max` bytes of the body; more → TooLarge, without buffering the excess. */
async function readLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) throw new TooLarge();
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new TooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * POST /cluster/v1/deliver: check the signature, decode, deliver, answer per recipient.
 * Every refusal names its reason and writes nothing; a refused signature is logged.
 */
export function mountDeliveryChannel(ctx: AppContext, secret: () => Promise<string>, delivery: BackendDelivery): (app: Hono) => void {
  const replay = new ReplayGuard();
  return (app) => {
    app.post(DELIVER_PATH, async (c: Context) => {
      const log = ctx.logger;
      const from = c.req.header(MEMBER_HEADER) ?? "?";
      const unauthorized = (reason: string) => {
        log.warn({ from, reason, path: DELIVER_PATH }, "delivery channel: request refused (401)");
        ctx.metrics.inc("mailcluster_channel_refused_total", "Delivery-channel requests refused", { status: "401" });
        return c.json({ error: `unauthorized: ${reason}` }, 401);
      };
      const timestamp = c.req.header(TIMESTAMP_HEADER);
      const signature = c.req.header(SIGNATURE_HEADER);
      if (!timestamp || !signature) return unauthorized("missing signature or timestamp");
      const s = ctx.settings();
      let body: Uint8Array;
      try {
        body = await readLimited(c.req.raw, s.delivery_channel_max_bytes);
      } catch (err) {
        if (err instanceof TooLarge) {
          ctx.metrics.inc("mailcluster_channel_refused_total", "Delivery-channel requests refused", { status: "413" });
          return c.json({ error: `request larger than ${s.delivery_channel_max_bytes} bytes` }, 413);
        }
        return c.json({ error: `could not read the request: ${coerceError(err).message}` }, 400);
      }
      const now = ctx.clock.now();
      const windowMs = s.delivery_channel_window_seconds * 1000;
      const verdict = verifyRequest(await secret(), { method: "POST", path: DELIVER_PATH, body, timestamp, nonce: c.req.header(NONCE_HEADER), signature, now, windowMs });
      if (!verdict.ok) return unauthorized(verdict.reason);
      if (!replay.accept(signature, now.getTime(), windowMs)) return unauthorized("replayed request");
      let decoded: ReturnType<typeof decodeRequest>;
      try {
        decoded = decodeRequest(body);
      } catch (err) {
        const reason = err instanceof ChannelFormatError ? err.message : coerceError(err).message;
        log.warn({ from, reason }, "delivery channel: bad request (400)");
        ctx.metrics.inc("mailcluster_channel_refused_total", "Delivery-channel requests refused", { status: "400" });
        return c.json({ error: reason }, 400);
      }
      const answers = await delivery.deliver(decoded.envelope, decoded.content);
      return c.json({ answers });
    });
  };
}
