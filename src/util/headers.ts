/**
 * What every reader of a message's header section shares (the SMTP frontend's rule fields,
 * the backend's delivery headers, the rules engine's MessageHeaders): how much of a message
 * is read as its header block, and the one way header fields are added on top.
 */

/** A header block is read up to this many bytes; the rest of a larger one is never parsed. */
export const MAX_HEADER_BYTES = 256 * 1024;

/** Prepends header fields to a raw message, leaving every original byte as it was. */
export function prependHeaders(content: Uint8Array, fields: ReadonlyArray<readonly [name: string, value: string]>): Uint8Array {
  if (fields.length === 0) return content;
  const head = new TextEncoder().encode(fields.map(([name, value]) => `${name}: ${value}\r\n`).join(""));
  const out = new Uint8Array(head.length + content.length);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}
