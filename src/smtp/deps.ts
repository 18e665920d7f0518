import type { AppContext } from "../app-context.ts";
import type { MessageAuth } from "../dkim/submission.ts";
import type { SubmitInput, SubmitResult } from "../queue/submit-input.ts";
import type { AuthThrottle } from "./auth-throttle.ts";
import type { RelayPolicy } from "./relay-policy.ts";
import type { SubmissionRules } from "../domain/submission-rules.ts";

/** What the SMTP hooks share; built once per frontend by startSmtpFrontend. */
export interface FrontendDeps {
  ctx: AppContext;
  relay: RelayPolicy;
  throttle: AuthThrottle;
  rules: SubmissionRules;
  /** DKIM signing of outbound mail, Authentication-Results on inbound (src/dkim). */
  messageAuth: MessageAuth;
  /** Commits the message before it resolves (the group commit by default). */
  submit: (input: SubmitInput) => Promise<SubmitResult>;
  processor: () => Promise<string | null>;
  /** Waits before answering a failed AUTH (real timers in production; injectable for tests). */
  delay: (ms: number) => Promise<void>;
}

/** The authenticated user smtp-server keeps on the session (we store the account address). */
export function sessionUser(user: unknown): string | null {
  return typeof user === "string" && user !== "" ? user : null;
}
