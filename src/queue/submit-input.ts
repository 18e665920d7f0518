// What a submission gives the queue and gets back: shared by submitMessage (submit.ts), the
// group commit (group-commit.ts) and the statement both use (insert-messages.ts).
import type { ClientInfo, Envelope } from "../domain/types.ts";
import type { HeaderSummary } from "./header-summary.ts";

export interface SubmitInput {
  envelope: Envelope;
  content: Uint8Array;
  client?: ClientInfo;
  /** Member that accepted or composed the message. */
  submittedBy: string;
  /** Member that must process it; null = the shared pool (locally-for-others members). */
  processor: string | null;
  kind?: "normal" | "dsn" | "generated";
  ruleInvocations?: number;
  now: Date;
  /** Subject and Message-ID when the caller parsed the header already; read from the content otherwise. */
  headers?: HeaderSummary;
}

export interface SubmitResult {
  messageId: number;
  recipientIds: number[];
}
