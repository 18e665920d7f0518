import { MessageHeaders } from "../rules/headers.ts";

/** RFC 5322's line limit: a longer Subject is not one a person searches for by its tail. */
export const MAX_HEADER_SUMMARY_CHARS = 998;

/** The two header values the delivery log is searched by, as stored on the messages row. */
export interface HeaderSummary {
  /** Subject:, RFC 2047-decoded, whitespace collapsed; null when absent or empty. */
  subject: string | null;
  /** Message-ID: without its angle brackets; null when absent or empty. */
  messageId: string | null;
}

const WANTED = new Set(["subject", "message-id"]);

/** From already split, still encoded fields (the SMTP frontend parses them for the rules anyway). */
export function headerSummaryFromFields(fields: ReadonlyArray<{ name: string; value: string }>): HeaderSummary {
  // Only the two fields are decoded: the rest of the block costs nothing here.
  return summarize(MessageHeaders.fromFields(fields.filter((f) => WANTED.has(f.name.toLowerCase()))));
}

/** From the raw message (DSNs, rule output, the admin API: paths that never split the header). */
export function headerSummaryFromContent(content: Uint8Array): HeaderSummary {
  return summarize(MessageHeaders.parse(content));
}

function summarize(h: MessageHeaders): HeaderSummary {
  const id = clean(h.first("message-id"));
  return { subject: clean(h.first("subject")), messageId: id === null ? null : clean(/<([^<>]*)>/.exec(id)?.[1] ?? id) };
}

/**
 * Control characters (an encoded word can decode to NUL, which a text column refuses, failing
 * the whole message) become spaces; the value is trimmed and cut at a code point boundary.
 */
export function clean(value: string | null): string | null {
  if (value === null) return null;
  const text = value.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  if (text === "") return null;
  if (text.length <= MAX_HEADER_SUMMARY_CHARS) return text;
  return Array.from(text).slice(0, MAX_HEADER_SUMMARY_CHARS).join("").trimEnd();
}
