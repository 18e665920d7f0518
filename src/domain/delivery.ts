// What the queue worker hands a delivery (local, relay, the suppression gate) and what it gets
// back for each recipient: the seam between src/queue and the folders that deliver. A leaf.
import type { DeliveryOutcome, DsnRet } from "./types.ts";

/** A recipient a member holds under lease, with what a delivery needs of its message. */
export interface ClaimedRecipient {
  id: number;
  messageId: number;
  address: string;
  domain: string;
  /** Attempts made before this one. */
  attempts: number;
  queuedAt: Date;
  lockedUntil: Date;
  dsnOrcpt: string | null;
  dsnNotify: string | null;
  sender: string;
  dsnEnvid: string | null;
  dsnRet: DsnRet | null;
  sizeBytes: number;
  kind: string;
  submittedBy: string;
  /** The member that processes the message (null: the shared pool). */
  processor: string | null;
  /** How often server-/cluster-wide rules ran for the message (reported when it is done). */
  ruleInvocations: number;
  /** The message was submitted by an authenticated client (the account rules may ask). */
  authenticated: boolean;
}

/** The answer for one recipient of a delivery batch. */
export interface RecipientOutcome {
  recipientId: number;
  outcome: DeliveryOutcome;
}
