import type { SmtpReply } from "../domain/types.ts";

/** RFC 3464 Action of one recipient's report. */
export type DsnAction = "failed" | "delayed" | "delivered" | "relayed";

export interface DsnRecipientReport {
  /** Address as we tried it (Final-Recipient). */
  address: string;
  /** ORCPT as given at RCPT ("rfc822;user@example.org", xtext), or null. */
  orcpt: string | null;
  action: DsnAction;
  /** Last server (or local) answer: Status and Diagnostic-Code. */
  reply: SmtpReply | null;
  /** Host that gave the answer, as recorded ("mx.example.org[192.0.2.1]:25"), or null. */
  remoteHost: string | null;
  lastAttemptAt: Date | null;
  /** For "delayed": how long we keep trying. */
  willRetryUntil?: Date | null;
}

export interface DsnInput {
  kind: "failure" | "delay" | "success";
  /** Our host name: Reporting-MTA, From, Message-ID. */
  reportingMta: string;
  /** The envelope sender of the original message, who gets the report. */
  to: string;
  envid: string | null;
  arrivalDate: Date;
  date: Date;
  recipients: DsnRecipientReport[];
  /** The original message as queued. */
  original: Uint8Array;
  /** FULL returns the message, HDRS only its header. */
  ret: "FULL" | "HDRS";
  /** Makes Message-ID and boundary unique (injected randomness). */
  unique: string;
}

const SUBJECTS: Record<DsnInput["kind"], string> = {
  failure: "Undelivered Mail Returned to Sender",
  delay: "Delayed Mail (still being retried)",
  success: "Successful Mail Delivery Report",
};

const NON_ASCII = /[^\x00-\x7f]/;

/** RFC 5322 date in UTC ("Mon, 01 Jun 2026 12:00:00 +0000"). */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "+0000");
}

/** Fold a header field at whitespace so no line passes 78 characters (RFC 5322 §2.2.3). */
export function foldField(name: string, value: string): string {
  const words = value.replace(/[\r\n]+/g, " ").split(" ");
  const lines: string[] = [];
  let line = `${name}:`;
  for (const w of words) {
    if (line.length + 1 + w.length > 78 && line.trim() !== `${name}:`) {
      lines.push(line);
      line = ` ${w}`;
    } else line += ` ${w}`;
  }
  lines.push(line);
  return lines.join("\r\n");
}

/** RFC 3461 xtext decoding ("+2B" → "+"), for showing ORCPT to a human. */
export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** "mx.example.org[192.0.2.1]:25" → "mx.example.org"; "[192.0.2.1]:25" → "[192.0.2.1]". */
export function remoteMtaName(remoteHost: string): string {
  const named = /^([^[\]]+)\[/.exec(remoteHost);
  if (named) return named[1];
  const literal = /^\[([^\]]+)\]/.exec(remoteHost);
  return literal ? `[${literal[1]}]` : remoteHost;
}

function statusOf(r: DsnRecipientReport): string {
  if (r.reply?.enhanced) return r.reply.enhanced;
  if (r.action === "delivered" || r.action === "relayed") return "2.0.0";
  if (r.action === "delayed") return "4.0.0";
  return r.reply && r.reply.code >= 400 && r.reply.code < 500 ? "4.0.0" : "5.0.0";
}

/** The address-type form of Final-Recipient (RFC 3464; utf-8 type of RFC 6533 for non-ASCII). */
function typedAddress(address: string): string {
  return NON_ASCII.test(address) ? `utf-8; ${address}` : `rfc822; ${address}`;
}

function headerSection(original: Uint8Array): Buffer {
  const buf = Buffer.from(original.buffer, original.byteOffset, original.byteLength);
  const crlf = buf.indexOf("\r\n\r\n");
  if (crlf >= 0) return buf.subarray(0, crlf + 2);
  const lf = buf.indexOf("\n\n");
  return lf >= 0 ? buf.subarray(0, lf + 1) : buf;
}

function humanText(input: DsnInput): string {
  const lines: string[] = [`This is the mail system at host ${input.reportingMta}.`, ""];
  if (input.kind === "failure") {
    lines.push("I'm sorry to have to inform you that your message could not", "be delivered to one or more recipients. It's attached below.", "");
  } else if (input.kind === "delay") {
    lines.push("Your message could not be delivered yet to one or more recipients.", "It will be retried until it is too old; you do not need to resend it.", "");
  } else {
    lines.push("Your message was successfully delivered to the destinations listed", "below. No further notice will be sent for them.", "");
  }
  for (const r of input.recipients) {
    const diag = r.reply ? `${r.reply.code}${r.reply.enhanced ? " " + r.reply.enhanced : ""} ${r.reply.text}` : r.action;
    const via = r.remoteHost ? ` (host ${remoteMtaName(r.remoteHost)} said: ${diag})` : ` (${diag})`;
    lines.push(`<${r.address}>: ${r.action}${via}`);
    if (r.action === "delayed" && r.willRetryUntil) lines.push(`    will be retried until ${rfc5322Date(r.willRetryUntil)}`);
  }
  return lines.join("\r\n") + "\r\n";
}

function deliveryStatus(input: DsnInput): string {
  const perMessage = [`Reporting-MTA: dns; ${input.reportingMta}`];
  if (input.envid) perMessage.push(`Original-Envelope-Id: ${input.envid}`);
  perMessage.push(`Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);
  const blocks = [perMessage.join("\r\n")];
  for (const r of input.recipients) {
    const f: string[] = [`Final-Recipient: ${typedAddress(r.address)}`];
    if (r.orcpt && r.orcpt.includes(";")) {
      const [type, ...rest] = r.orcpt.split(";");
      f.push(`Original-Recipient: ${type.trim()}; ${decodeXtext(rest.join(";"))}`);
    }
    f.push(`Action: ${r.action}`, `Status: ${statusOf(r)}`);
    if (r.remoteHost) f.push(`Remote-MTA: dns; ${remoteMtaName(r.remoteHost)}`);
    if (r.reply) {
      // "smtp" when a remote SMTP server said it; our own verdicts (DNS, expiry, local delivery) are typed as ours, like Postfix's X-Postfix.
      const type = r.remoteHost ? "smtp" : "X-Mailcluster";
      f.push(foldField("Diagnostic-Code", `${type}; ${r.reply.code}${r.reply.enhanced ? " " + r.reply.enhanced : ""} ${r.reply.text}`.trimEnd()));
    }
    if (r.lastAttemptAt) f.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptAt)}`);
    if (r.action === "delayed" && r.willRetryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
    blocks.push(f.join("\r\n"));
  }
  return blocks.join("\r\n\r\n") + "\r\n";
}

/**
 * A delivery status notification (RFC 3464) as a multipart/report (RFC 6522): a human-readable
 * part, the machine-readable message/delivery-status, and the original message (RET=FULL) or
 * its header (RET=HDRS). Built by hand because nodemailer's composer cannot make a
 * multipart/report; the test reads it back with mailparser.
 */
export function composeDsn(input: DsnInput): Buffer {
  if (input.recipients.length === 0) throw new Error("a DSN needs at least one recipient to report on");
  const boundary = `=_dsn_${input.unique}_${input.date.getTime().toString(36)}`;
  const human = humanText(input);
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.to}>`,
    `Subject: ${SUBJECTS[input.kind]}`,
    `Date: ${rfc5322Date(input.date)}`,
    `Message-ID: <dsn.${input.unique}.${input.date.getTime()}@${input.reportingMta}>`,
    // RFC 3834: keeps auto-responders from answering a bounce.
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="${boundary}"`,
    "",
    "This is a MIME-encapsulated delivery status notification.",
    "",
  ].join("\r\n");
  const parts: Buffer[] = [Buffer.from(headers + "\r\n", "utf8")];
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${NON_ASCII.test(human) ? "8bit" : "7bit"}\r\n\r\n${human}\r\n`,
      "utf8",
    ),
  );
  const status = deliveryStatus(input);
  parts.push(Buffer.from(`--${boundary}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n${status}\r\n`, "utf8"));
  const returned = input.ret === "FULL" ? Buffer.from(input.original) : headerSection(input.original);
  const eightBit = returned.some((b) => b > 0x7f);
  const type = input.ret === "FULL" ? "message/rfc822" : "text/rfc822-headers";
  const description = input.ret === "FULL" ? "Undelivered Message" : "Undelivered Message Headers";
  parts.push(Buffer.from(`--${boundary}\r\nContent-Description: ${description}\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: ${eightBit ? "8bit" : "7bit"}\r\n\r\n`, "utf8"));
  parts.push(returned);
  const endsWithNewline = returned.length > 0 && returned[returned.length - 1] === 0x0a;
  parts.push(Buffer.from(`${endsWithNewline ? "" : "\r\n"}\r\n--${boundary}--\r\n`, "utf8"));
  return Buffer.concat(parts);
}
