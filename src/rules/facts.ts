import addressparser from "nodemailer/lib/addressparser";
import { MessageHeaders } from "./headers.ts";

/** What conditions are evaluated against: a value, so evaluation stays a pure function. */
export interface MessageFacts {
  headers: MessageHeaders;
  /** Size of the raw message in bytes. */
  size: number;
  /** The sender authenticated (SMTP AUTH) when submitting the message. */
  authenticated: boolean;
  /** Envelope reverse path; "" is the null sender. */
  sender: string;
  /** Envelope recipients: the account itself for account rules, all of them at submission. */
  recipients: string[];
}

export interface FactsInput {
  content: Uint8Array;
  sender: string;
  recipients: string[];
  authenticated: boolean;
}

export function messageFacts(input: FactsInput): MessageFacts {
  return {
    headers: MessageHeaders.parse(input.content),
    size: input.content.byteLength,
    authenticated: input.authenticated,
    sender: input.sender,
    recipients: input.recipients,
  };
}

/** The addr-specs named in address header fields (groups flattened), lower-cased. */
export function headerAddresses(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const mailbox of addressparser(value, { flatten: true })) {
      if (mailbox.address) out.push(mailbox.address.toLowerCase());
    }
  }
  return out;
}
