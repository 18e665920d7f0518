import type { SmtpReply } from "../domain/types.ts";

/** An error a smtp-server hook answers with: `responseCode` is the reply code, the message starts with the enhanced status. */
export interface SmtpHookError extends Error {
  responseCode: number;
}

/**
 * Our replies always carry their own enhanced status (RFC 3463) in the text, because smtp-server
 * otherwise derives one from the basic code alone (every 550 would read 5.1.1, every 554 5.6.0).
 * The connection recognises the prefix and does not add another (see connection.ts).
 */
export function smtpError(code: number, enhanced: string, text: string): SmtpHookError {
  const err = new Error(`${enhanced} ${text}`) as SmtpHookError;
  err.responseCode = code;
  return err;
}

export function replyError(reply: SmtpReply): SmtpHookError {
  return smtpError(reply.code, reply.enhanced ?? (reply.code >= 500 ? "5.0.0" : reply.code >= 400 ? "4.0.0" : "2.0.0"), reply.text);
}

export const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
