import { headerEnd } from "../util/headers.ts";

/**
 * RFC 8601 §5: an Authentication-Results field that claims our authserv-id but arrived with
 * the message was not written by us; it is removed before ours is added, so nobody downstream
 * trusts a forged "dkim=pass".
 */

/** The authserv-id of an Authentication-Results value: the first token, comments and version aside. */
export function authservIdOf(value: string): string {
  const noComments = value.replace(/\([^()]*\)/g, " ");
  return (noComments.split(";")[0] ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
}

/** Removes Authentication-Results fields whose authserv-id is one of `ids` (lower-case) from the header block; the body is untouched. */
export function stripAuthResults(message: Buffer, ids: ReadonlySet<string>): Buffer {
  // The whole header block, however long: a forged field must not hide past MAX_HEADER_BYTES.
  const { end } = headerEnd(message, message.length);
  const header = message.toString("latin1", 0, end);
  // Fields with their continuation lines, each keeping its own line ending.
  const fields = header.match(/[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*(?:\r?\n|$)/g) ?? [];
  let dropped = false;
  const kept = fields.filter((f) => {
    const m = /^authentication-results[ \t]*:/i.exec(f);
    if (!m || !ids.has(authservIdOf(f.slice(m[0].length).replace(/\r?\n/g, " ")))) return true;
    dropped = true;
    return false;
  });
  if (!dropped) return message;
  const head = Buffer.from(kept.join(""), "latin1");
  return Buffer.concat([head, message.subarray(end)]);
}
