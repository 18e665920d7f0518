import type { Envelope } from "../domain/types.ts";

/** Mail a rule generated (redirect, forward, auto-reply): submit it like any other message, kind "generated". */
export interface GeneratedMail {
  kind: "redirect" | "forward" | "auto-reply";
  envelope: Envelope;
  content: Uint8Array;
}

/** RFC 5322 date-time, "+0000" rather than the obsolete "GMT". */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

/** Prepends header fields to a raw message, leaving every original byte as it was. */
export function prependHeaders(content: Uint8Array, fields: ReadonlyArray<readonly [string, string]>): Uint8Array {
  if (fields.length === 0) return content;
  const head = new TextEncoder().encode(fields.map(([name, value]) => `${name}: ${value}\r\n`).join(""));
  const out = new Uint8Array(head.length + content.length);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}
