import type { NodemailerError } from "nodemailer/lib/errors";
import type { DsnRet, SmtpReply } from "../domain/types.ts";
import type { RelayConnection, RecipientDsn } from "./relay-connection.ts";
import { localReply, parseSmtpReply } from "../domain/smtp-reply.ts";

export interface TransactionInput {
  sender: string;
  recipients: { address: string; dsn: RecipientDsn }[];
  content: Buffer;
  ret: DsnRet | null;
  envid: string | null;
}

/**
 * What one SMTP transaction told us: a final server answer per recipient where there is one,
 * and for the rest the connection trouble that left them unanswered (try the next host).
 */
export interface TransactionResult {
  replies: Map<string, SmtpReply>;
  /** Set when some recipients got no answer: the connection failed, timed out or got 421. */
  trouble: SmtpReply | null;
  /** The session is in a clean state for the next message. */
  reusable: boolean;
  /** Nothing reached the server: a reused connection that had gone stale. */
  stale: boolean;
}

const NON_ASCII = /[^\x00-\x7f]/;

export function needsSmtpUtf8(sender: string, recipients: readonly string[]): boolean {
  return NON_ASCII.test(sender) || recipients.some((r) => NON_ASCII.test(r));
}

function has8bit(content: Buffer): boolean {
  for (const b of content) if (b > 0x7f) return true;
  return false;
}

/**
 * One message to one server in one transaction: MAIL, a RCPT per recipient (with its own
 * NOTIFY/ORCPT when the server speaks DSN), DATA. Checks SMTPUTF8 and SIZE first, from EHLO.
 */
export async function runTransaction(conn: RelayConnection, input: TransactionInput): Promise<TransactionResult> {
  const addresses = input.recipients.map((r) => r.address);
  const all = (reply: SmtpReply): TransactionResult => ({ replies: new Map(addresses.map((a) => [a, reply])), trouble: null, reusable: true, stale: false });

  if (needsSmtpUtf8(input.sender, addresses) && !conn.extensions.includes("SMTPUTF8")) {
    // RFC 6531 §3.2: no downgrade of addresses; the message cannot go to this server.
    return all(localReply(553, "5.6.7", "the message needs SMTPUTF8 (non-ASCII address) and the server does not support it"));
  }
  if (conn.maxSize > 0 && input.content.byteLength > conn.maxSize) {
    return all(localReply(552, "5.3.4", `message size ${input.content.byteLength} exceeds the server's limit of ${conn.maxSize} bytes`));
  }

  conn.recipientDsn = new Map(input.recipients.map((r) => [r.address, r.dsn]));
  try {
    const info = await conn.sendAsync(
      { from: input.sender, to: addresses, size: input.content.byteLength, use8BitMime: has8bit(input.content), ret: input.ret, envid: input.envid },
      input.content,
    );
    const replies = new Map<string, SmtpReply>();
    const accepted = parseSmtpReply(info.response) ?? localReply(250, "2.0.0", info.response);
    for (const e of info.rejectedErrors ?? []) setRcptReply(replies, e);
    for (const a of info.accepted) if (!replies.has(a)) replies.set(a, accepted);
    const missing = addresses.some((a) => !replies.has(a));
    return { replies, trouble: missing ? localReply(451, "4.4.2", "no answer for this recipient") : null, reusable: true, stale: false };
  } catch (raw) {
    return fromError(raw as NodemailerError, conn, addresses);
  }
}

function setRcptReply(replies: Map<string, SmtpReply>, e: NodemailerError): void {
  if (!e.recipient || !e.response) return;
  const reply = parseSmtpReply(e.response);
  // 421 ends the session: not an answer about the recipient, who goes to the next host.
  if (reply && reply.code !== 421) replies.set(e.recipient, reply);
}

function fromError(err: NodemailerError, conn: RelayConnection, addresses: string[]): TransactionResult {
  const replies = new Map<string, SmtpReply>();
  const response = err.response ? parseSmtpReply(err.response) : null;
  const gotAnyReply = Boolean(err.response) || conn.rcptRejections.length > 0;
  if (err.command === "MAIL FROM" && response && response.code !== 421) {
    // A refused sender answers for every recipient (the RCPT replies after it mean nothing).
    for (const a of addresses) replies.set(a, response);
    return { replies, trouble: null, reusable: false, stale: false };
  }
  for (const e of [...(err.rejectedErrors ?? []), ...conn.rcptRejections]) setRcptReply(replies, e);
  const transactionLevel = (err.command === "RCPT TO" || err.command === "DATA") && response !== null && response.code !== 421;
  if (transactionLevel) {
    for (const a of addresses) if (!replies.has(a)) replies.set(a, response);
    return { replies, trouble: null, reusable: false, stale: false };
  }
  const trouble = response && response.code === 421 ? response : troubleReply(err);
  const stale = !gotAnyReply && (err.code === "ECONNECTION" || err.code === "ESOCKET");
  return { replies, trouble, reusable: false, stale };
}

/** A reply for connection trouble that has no server answer (refused, timeout, TLS, AUTH). */
export function troubleReply(err: NodemailerError): SmtpReply {
  const message = (err.message || String(err)).replace(/\s+/g, " ").slice(0, 300);
  const server = err.response ? parseSmtpReply(err.response) : null;
  switch (err.code) {
    case "ETIMEDOUT":
      return localReply(451, err.timeoutType === "CONNECT_TIMEOUT" ? "4.4.1" : "4.4.2", `timeout: ${message}`);
    case "ETLS":
      return localReply(451, "4.7.4", `TLS failed or was not offered: ${message}`);
    case "EAUTH":
      // Postfix defers on SASL trouble: the credentials are the operator's to fix.
      return localReply(451, "4.7.0", `authentication failed: ${server ? `${server.code} ${server.text}` : message}`);
    case "EDNS":
      return localReply(451, "4.4.3", message);
    default:
      if (server && server.code >= 400 && server.code < 500) return server;
      return localReply(451, err.originalCode === "ECONNREFUSED" || err.code === "ECONNREFUSED" ? "4.4.1" : "4.4.2", `connection trouble: ${message}`);
  }
}
