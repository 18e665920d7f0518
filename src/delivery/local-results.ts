import type { AppContext } from "../app-context.ts";
import type { ChannelAnswer } from "../backend/channel-protocol.ts";
import { domainOf } from "../domain/address.ts";
import { deferred, delivered, failed } from "../domain/outcome.ts";
import type { DeliveryOutcome } from "../domain/types.ts";
import { submitMemberMail } from "../member-mail/submit.ts";
import { coerceError } from "../util/errors.ts";
import type { Expansion } from "./local-expand.ts";
import { parseHeaders, prependHeaders } from "../util/headers.ts";

/** Marks mail an alias sent on to remote targets; the same alias does not expand it twice (loop). */
export const ALIAS_HEADER = "X-Mailcluster-Alias-Expanded";

/**
 * One queue recipient's outcome from its accounts' answers alone: any temporary → deferred
 * (the retry is safe: stores are idempotent); all permanent → failed; else delivered. Null
 * when an alias's remote targets must be handed on first (see combine).
 */
export function accountsOutcome(e: Expansion, answers: readonly ChannelAnswer[]): DeliveryOutcome | null {
  if (e.outcome) return e.outcome;
  const temp = answers.find((a) => a.status === "temporary" || a.status === "redirect");
  if (temp) return deferred(temp.code, temp.enhanced, temp.text);
  if (answers.length < e.accounts.length) return deferred(451, "4.3.0", "no answer for some accounts");
  const stored = answers.filter((a) => a.status === "stored");
  if (e.accounts.length > 0 && stored.length === 0) {
    const p = answers[0];
    return failed(p.code, p.enhanced, p.text);
  }
  if (e.remote.length > 0) return null;
  return deliveredTo(e, answers);
}

/** 250 naming where it went: the accounts that stored it, the alias's remote targets, who refused. */
function deliveredTo(e: Expansion, answers: readonly ChannelAnswer[]): DeliveryOutcome {
  const parts = answers.filter((a) => a.status === "stored").map((a) => `${a.account}: ${a.text}`);
  if (e.remote.length > 0) parts.push(`sent on to ${e.remote.join(", ")}`);
  const refused = answers.filter((a) => a.status === "permanent");
  if (refused.length > 0) parts.push(`refused by ${refused.map((a) => `${a.account} (${a.code} ${a.text})`).join(", ")}`);
  return delivered(250, "2.0.0", parts.join("; ").slice(0, 900));
}

/** accountsOutcome, after submitting an alias's remote targets as a new message (once: the alias header marks it). */
export async function combine(ctx: AppContext, e: Expansion, answers: readonly ChannelAnswer[], content: Uint8Array): Promise<DeliveryOutcome> {
  const settled = accountsOutcome(e, answers);
  if (settled) return settled;
  const stored = answers.filter((a) => a.status === "stored");
  const alias = e.alias ?? e.recipient.address;
  const marks = parseHeaders(content).get(ALIAS_HEADER.toLowerCase()) ?? [];
  if (marks.some((m) => m.toLowerCase() === alias.toLowerCase())) {
    if (stored.length === 0) return failed(550, "5.4.6", `alias loop: ${alias} already expanded this message`);
  } else {
    try {
      // Sent on by the alias's domain: signed with its key when it has one.
      const envelope = { sender: e.recipient.sender, recipients: e.remote.map((address) => ({ address })) };
      await submitMemberMail(ctx, { envelope, content: prependHeaders(content, [[ALIAS_HEADER, alias]]), signAs: domainOf(alias), kind: "generated" });
    } catch (err) {
      return deferred(451, "4.3.0", `could not hand ${alias} on to ${e.remote.join(", ")}: ${coerceError(err).message}`);
    }
  }
  return deliveredTo(e, answers);
}
