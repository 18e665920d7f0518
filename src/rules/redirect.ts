import MailComposer from "nodemailer/lib/mail-composer";
import { prependHeaders } from "../util/headers.ts";
import { type GeneratedMail, rfc5322Date } from "./generated.ts";
import type { MessageHeaders } from "./headers.ts";
import { LOOP_HEADER, loopAccounts } from "./loop.ts";

export interface RedirectInput {
  account: string;
  /** The message as received. */
  content: Uint8Array;
  /** Envelope reverse path of the received message: bounces of a redirect go to the original sender. */
  sender: string;
  to: string[];
  now: Date;
}

/**
 * Redirect (resend): the original message unchanged below RFC 5322 Resent-* fields and the
 * loop header; only the envelope changes.
 */
export function composeRedirect(input: RedirectInput): GeneratedMail {
  const content = prependHeaders(input.content, [
    [LOOP_HEADER, input.account],
    ["Resent-From", `<${input.account}>`],
    ["Resent-To", input.to.map((a) => `<${a}>`).join(", ")],
    ["Resent-Date", rfc5322Date(input.now)],
  ]);
  return {
    kind: "redirect",
    envelope: { sender: input.sender, recipients: input.to.map((address) => ({ address })) },
    content,
  };
}

export interface ForwardInput {
  account: string;
  content: Uint8Array;
  headers: MessageHeaders;
  to: string[];
  now: Date;
  messageId?: string;
}

/**
 * Forward a copy: a new message from the account with the original attached as
 * message/rfc822. The loop header carries the accounts the original already passed through,
 * since wrapping hides them from the next hop.
 */
export async function composeForward(input: ForwardInput): Promise<GeneratedMail> {
  const subject = input.headers.first("subject") ?? "";
  const chain = [...loopAccounts(input.headers), input.account.toLowerCase()];
  const composer = new MailComposer({
    from: input.account,
    to: input.to,
    subject: `Fwd: ${subject}`.trim(),
    date: input.now,
    ...(input.messageId ? { messageId: input.messageId } : {}),
    text: `Forwarded automatically by a rule of ${input.account}; the original message is attached.\r\n`,
    attachments: [{ content: Buffer.from(input.content), contentType: "message/rfc822", contentDisposition: "attachment", filename: "forwarded.eml" }],
    headers: { "Auto-Submitted": "auto-generated", [LOOP_HEADER]: chain.join(", ") },
    newline: "win",
  });
  const built = await composer.compile().build();
  return {
    kind: "forward",
    envelope: { sender: input.account, recipients: input.to.map((address) => ({ address })) },
    content: new Uint8Array(built),
  };
}
