import type { AppContext } from "../app-context.ts";
import { chooseProcessor } from "../cluster/processor.ts";
import type { Executor } from "../db/db.ts";
import { signGenerated } from "../dkim/sign.ts";
import type { Envelope } from "../domain/types.ts";
import { submitMessage } from "../queue/submit.ts";
import type { SubmitResult } from "../queue/submit-input.ts";

export interface MemberMail {
  envelope: Envelope;
  content: Uint8Array;
  /** DKIM-sign with this domain's key (or its parent's) when it has one; null = unsigned. */
  signAs: string | null;
  kind: "dsn" | "generated";
  /** The submission time when the caller already dated the mail with it; else the clock's now. */
  now?: Date;
}

/**
 * The one recipe for mail a member composes itself (DSNs, rule actions, TLS reports): signed
 * as `signAs`, submitted by this member, processed by whom its submit mode says (a `remotely`
 * member's fallback is logged and counted there). With `via`, inside the caller's transaction,
 * so the message exists exactly when what the caller writes with it does.
 */
export async function submitMemberMail(ctx: AppContext, mail: MemberMail, via?: Executor): Promise<SubmitResult> {
  const db = via ?? ctx.db;
  const content = await signGenerated(ctx, mail.content, mail.signAs, via);
  return submitMessage(db, {
    envelope: mail.envelope,
    content,
    submittedBy: ctx.config.memberName,
    processor: await chooseProcessor(ctx),
    kind: mail.kind,
    now: mail.now ?? ctx.clock.now(),
  }, via !== undefined ? { inTransaction: true } : { wakeUp: ctx.wakeUp });
}
