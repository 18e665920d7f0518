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
