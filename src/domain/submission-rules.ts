// The seam between the SMTP frontend (src/smtp/) and the rules engine (src/rules/): a leaf, so
// neither points at the other.
import type { ClientInfo, Envelope, EnvelopeRecipient, SmtpReply } from "./types.ts";

export interface HeaderField {
  /** As written, e.g. "Subject". */
  name: string;
  /** Unfolded value, leading whitespace trimmed. */
  value: string;
}

export interface SubmissionInput {
  envelope: Envelope;
  headers: HeaderField[];
  client: ClientInfo;
  sizeBytes: number;
}

export type SubmissionVerdict =
  /**
   * Enqueue; extra header lines ("X-Spam: yes", no CRLF) are prepended to the message.
   * `recipients`, when set, replace the envelope's (a redirect rule).
   */
  | { kind: "accept"; addHeaders?: string[]; recipients?: EnvelopeRecipient[] }
  /** Refuse with this reply (4xx or 5xx): nothing is enqueued. */
  | { kind: "reject"; reply: SmtpReply }
  /** Answer 250 but enqueue nothing. */
  | { kind: "discard" };

/**
 * Server-wide and cluster-wide rules, run by the SMTP frontend once per message at DATA, before
 * the message is committed. The rule engine (src/rules/) implements this; until then the
 * frontend uses acceptAllRules. Each call counts as one rule invocation on the message.
 */
export interface SubmissionRules {
  evaluate(input: SubmissionInput): Promise<SubmissionVerdict>;
}

export const acceptAllRules: SubmissionRules = {
  evaluate: async () => ({ kind: "accept" }),
};
