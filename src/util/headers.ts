import type { HeaderField } from "../domain/submission-rules.ts";

/**
 * The one reader of a message's header section, for everyone who looks at it: the SMTP
 * frontend (rule fields, DKIM), the backend (delivery headers, alias marks), the rules engine
 * (MessageHeaders in src/rules/headers.ts decodes these values) and the Authentication-Results
 * stripper. How much of a message is read as its header block, where the block ends, how fields
 * are split and unfolded, and the one way header fields are added on top.
 */

/** A header block is read up to this many bytes; the rest of a larger one is never parsed. */
export const MAX_HEADER_BYTES = 256 * 1024;

/**
 * Where the header block ends: `end` just after the last field's line ending, `bodyStart` just
 * after the blank line; both at the limit (or the content's end) when there is no blank line
 * within it. CRLF and bare LF alike.
 */
export function headerEnd(content: Uint8Array, limit = MAX_HEADER_BYTES): { end: number; bodyStart: number } {
  const max = Math.min(content.length, limit);
  const scanned = content.subarray(0, max);
  for (let i = scanned.indexOf(10); i >= 0; i = scanned.indexOf(10, i + 1)) {
    if (content[i + 1] === 10) return { end: i + 1, bodyStart: i + 2 };
    if (content[i + 1] === 13 && content[i + 2] === 10) return { end: i + 1, bodyStart: i + 3 };
  }
  return { end: max, bodyStart: max };
}

// RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon.
const FIELD_NAME = /^[!-9;-~]+$/;

/**
 * The header fields in message order: names as written, values unfolded (a continuation line
 * joins with one space) and trimmed, not decoded (RFC 2047 words stay as they are). A line that
 * is not a field is skipped with its continuation lines. Only the header block is read, so big
 * bodies cost nothing.
 */
export function parseHeaderFields(content: Uint8Array): HeaderField[] {
  const text = new TextDecoder("utf-8").decode(content.subarray(0, headerEnd(content).end));
  const fields: HeaderField[] = [];
  let current: HeaderField | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (current) current.value += " " + line.trim();
      continue;
    }
    if (current) current.value = current.value.trim();
    current = null;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!FIELD_NAME.test(name)) continue;
    current = { name, value: line.slice(colon + 1) };
    fields.push(current);
  }
  if (current) current.value = current.value.trim();
  return fields;
}

/** The header fields by lower-cased name, each name's values in message order. */
export type Headers = ReadonlyMap<string, readonly string[]>;

/** parseHeaderFields, by lower-cased name: what delivery looks up (From, Subject, marks). */
export function parseHeaders(content: Uint8Array): Headers {
  const out = new Map<string, string[]>();
  for (const { name, value } of parseHeaderFields(content)) {
    const key = name.toLowerCase();
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** The first value of a field, or null. */
export function header(h: Headers, name: string): string | null {
  return h.get(name.toLowerCase())?.[0] ?? null;
}

/** Prepends header fields to a raw message, leaving every original byte as it was. */
export function prependHeaders(content: Uint8Array, fields: ReadonlyArray<readonly [name: string, value: string]>): Uint8Array {
  if (fields.length === 0) return content;
  const head = new TextEncoder().encode(fields.map(([name, value]) => `${name}: ${value}\r\n`).join(""));
  const out = new Uint8Array(head.length + content.length);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}
