// Domain types shared by the engine, the storage layer and the adapters.
// This module is a leaf: it imports nothing, so nothing can form a cycle through it.

/** An SMTP reply: basic code (RFC 5321), enhanced status (RFC 3463) and text. */
export interface SmtpReply {
  code: number;
  /** Enhanced status code such as "4.4.1"; null when the peer sent none. */
  enhanced: string | null;
  text: string;
}

/** Where a queue item (one recipient of one message) stands. */
export type RecipientState = "queued" | "held" | "delivered" | "failed";

export const FINAL_STATES: readonly RecipientState[] = ["delivered", "failed"];

/** RFC 3461 NOTIFY values; an empty list means the default (FAILURE, DELAY as the MTA sees fit). */
export type DsnNotify = "NEVER" | "SUCCESS" | "FAILURE" | "DELAY";
export type DsnRet = "FULL" | "HDRS";

export interface EnvelopeRecipient {
  address: string;
  /** RFC 3461 ORCPT, as given ("rfc822;user@example.org"). */
  orcpt?: string | null;
  notify?: DsnNotify[] | null;
}

export interface Envelope {
  /** Reverse path; "" is the null sender (bounces). */
  sender: string;
  recipients: EnvelopeRecipient[];
  envid?: string | null;
  ret?: DsnRet | null;
}

/** Who handed the message to us. */
export interface ClientInfo {
  address?: string | null;
  hostname?: string | null;
  helo?: string | null;
  authenticatedUser?: string | null;
  tls?: boolean;
  protocol?: string | null;
}

/**
 * The result of one delivery attempt for one recipient, as a value:
 * delivered (2xx), deferred (4xx, retry later) or failed (5xx, final).
 */
export type DeliveryOutcome =
  | { kind: "delivered"; reply: SmtpReply; remoteHost?: string | null }
  /** retryAt: the next attempt no earlier than this (a suspended or rate-limited destination), instead of the retry schedule. */
  | { kind: "deferred"; reply: SmtpReply; remoteHost?: string | null; retryAt?: Date }
  | { kind: "failed"; reply: SmtpReply; remoteHost?: string | null };

/** Submit modes (see DESIGN.md): who processes the messages a member submits. */
export type SubmitMode = "locally" | "locally-for-others" | "remotely";

export type Role = "frontend" | "backend";

/** Injected time source: tests run retry schedules and lease expiry without sleeping. */
export interface Clock {
  now(): Date;
}

/** Injected randomness (jitter, MX shuffling, hashing seeds). Returns [0, 1). */
export interface Random {
  next(): number;
}
