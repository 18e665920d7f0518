// SMTP replies as values: a server's reply parsed, or one made up for trouble without one.
// A leaf: the relay parses and makes them, shaping makes them for the destinations it holds back.
import type { SmtpReply } from "./types.ts";

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})\s+/;

/**
 * Parse a server reply as nodemailer hands it over ("550-5.1.1 first\n550 5.1.1 second"):
 * the basic code, the enhanced status of the first line (RFC 3463) and the text of every
 * line, without codes, joined by spaces. Null when there is no three-digit code.
 */
export function parseSmtpReply(raw: string): SmtpReply | null {
  const lines = raw.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== "");
  if (lines.length === 0) return null;
  const first = /^([2-5]\d\d)[ -]?(.*)$/.exec(lines[0]);
  if (!first) return null;
  const code = Number(first[1]);
  let enhanced: string | null = null;
  const texts: string[] = [];
  for (const line of lines) {
    const m = /^\d\d\d[ -]?(.*)$/.exec(line);
    let text = m ? m[1] : line;
    const e = ENHANCED.exec(text + " ");
    if (e) {
      // An enhanced code must agree with the basic code's class to count (RFC 3463 §2).
      if (enhanced === null && e[1][0] === String(code)[0]) enhanced = e[1];
      text = text.slice(e[1].length).trimStart();
    }
    if (text !== "") texts.push(text);
  }
  return { code, enhanced, text: texts.join(" ") };
}

/** A reply we make up for trouble that has no server answer (connection refused, timeouts, DNS). */
export function localReply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, enhanced, text: text.replace(/[\r\n]+/g, " ").trim() };
}
