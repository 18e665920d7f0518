import { Readable } from "node:stream";
import { dkimSign } from "mailauth";
import addressparser from "nodemailer/lib/addressparser";
import type { AppContext } from "../app-context.ts";
import type { Executor } from "../db/db.ts";
import type { HeaderField } from "../domain/submission-rules.ts";
import { coerceError } from "../util/errors.ts";
import { parseHeaderFields } from "../util/headers.ts";
import type { DkimSigningKey } from "./store.ts";

export interface DkimSignature {
  domain: string;
  selector: string;
  /** The DKIM-Signature field(s), each ending in CRLF, to go on top of the message. */
  header: string;
}

/** The domain of the (first) From: address, lower-cased; null when there is none. */
export function fromDomain(fields: readonly HeaderField[]): string | null {
  const from = fields.find((f) => f.name.toLowerCase() === "from");
  if (!from) return null;
  const address = addressparser(from.value, { flatten: true })[0]?.address ?? "";
  const at = address.lastIndexOf("@");
  return at > 0 ? address.slice(at + 1).toLowerCase() : null;
}

/** d= and s= of the DKIM-Signature fields already in the header, "domain selector" lower-cased. */
export function existingSignatures(fields: readonly HeaderField[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) {
    if (f.name.toLowerCase() !== "dkim-signature") continue;
    const tags = new Map(
      f.value.split(";").map((t) => {
        const eq = t.indexOf("=");
        return [t.slice(0, eq).trim().toLowerCase(), t.slice(eq + 1).replace(/\s+/g, "").toLowerCase()] as const;
      }),
    );
    const d = tags.get("d");
    const s = tags.get("s");
    if (d && s) out.add(`${d} ${s}`);
  }
  return out;
}

/**
 * relaxed/relaxed signatures with `keys` (mailauth's signer, its default header list), one
 * per key not already present in the message (d= and s= both ours): a message that passes us
 * twice, as a member hand-off does, is signed once. Reads the message as parts so the caller
 * concatenates it once, signature included. Null when nothing was signed.
 */
export async function signParts(parts: readonly Uint8Array[], keys: readonly DkimSigningKey[], o: { now: Date; headerFields: readonly HeaderField[] }): Promise<DkimSignature | null> {
  if (keys.length === 0) return null;
  const present = existingSignatures(o.headerFields);
  const todo = keys.filter((k) => !present.has(`${k.domain} ${k.selector}`));
  if (todo.length === 0) return null;
  try {
    // The parsed KeyObject where the keyring made one (mailauth takes it through patches/mailauth+4.13.3.patch).
    return await signWith(parts, todo, o.now, true);
  } catch (err) {
    // Without the patch (or a runtime whose KeyObject it does not recognise) the PEM still works.
    if (!todo.some((k) => k.parsed)) throw err;
    return signWith(parts, todo, o.now, false);
  }
}

async function signWith(parts: readonly Uint8Array[], keys: readonly DkimSigningKey[], now: Date, parsed: boolean): Promise<DkimSignature> {
  const data = keys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: (parsed ? k.parsed : undefined) ?? k.privateKey, algorithm: k.algorithm, canonicalization: "relaxed/relaxed" }));
  // mailauth signs what signatureData lists (its top-level key fields alone sign nothing).
  const result = await dkimSign(Readable.from(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))), {
    ...data[0],
    signTime: now,
    signatureData: data,
  });
  // mailauth reports per signature: { selector, signingDomain, err }.
  const failed: unknown = result.errors[0];
  if (failed !== undefined) throw coerceError(failed && typeof failed === "object" && "err" in failed ? failed.err : failed);
  if (result.signatures.trim() === "") throw new Error("mailauth produced no DKIM-Signature");
  return { domain: keys[0].domain, selector: keys.map((k) => k.selector).join(","), header: result.signatures };
}

/**
 * Mail the backend composes (forwards, redirects, vacation replies, alias hand-ons, DSNs):
 * signed with `domain`'s keys, or its closest parent domain's, when it has any. A signing
 * failure is logged and the message goes unsigned: a missing signature costs less than mail
 * that never leaves.
 */
export async function signGenerated(ctx: AppContext, content: Uint8Array, domain: string | null, via?: Executor): Promise<Uint8Array> {
  if (!domain) return content;
  const keys = await ctx.dkimKeys.keysFor(domain, { parents: true, via });
  if (keys.length === 0) return content;
  try {
    const sig = await signParts([content], keys, { now: ctx.clock.now(), headerFields: parseHeaderFields(content) });
    if (!sig) return content;
    ctx.metrics.inc("mailcluster_dkim_signed_total", "Messages DKIM-signed by where they came from", { source: "generated" });
    const head = Buffer.from(sig.header, "utf8");
    return Buffer.concat([head, content], head.byteLength + content.byteLength);
  } catch (err) {
    ctx.metrics.inc("mailcluster_dkim_sign_failures_total", "Messages left unsigned because signing failed");
    ctx.logger.warn({ domain, err: coerceError(err).message }, "DKIM signing failed; message sent unsigned");
    return content;
  }
}
