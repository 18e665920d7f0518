import type { Executor } from "../db/db.ts";
import { domainOf } from "../domain/address.ts";
import type { SmtpReply } from "../domain/types.ts";
import { evaluate } from "./evaluate.ts";
import { messageFacts } from "./facts.ts";
import { type GeneratedMail, prependHeaders } from "./generated.ts";
import { isLooping } from "./loop.ts";
import type { Action } from "./model.ts";
import { composeForward, composeRedirect } from "./redirect.ts";
import { loadDeliveryRules } from "./store.ts";
import { composeAutoReply, decideVacation, DEFAULT_VACATION_DAYS } from "./vacation.ts";

export type { Action, RuleSet } from "./model.ts";
export type { GeneratedMail } from "./generated.ts";
export { RuleSetError, validateRuleSet } from "./validate.ts";
export { evaluate } from "./evaluate.ts";

export interface AccountRulesInput {
  account: string;
  /** Defaults to the account's domain. */
  domain?: string;
  content: Uint8Array;
  envelope: { sender: string };
  /** The sender authenticated when submitting (messages.authenticated_user set). */
  authenticated: boolean;
  now: Date;
}

export interface AccountRulesResult {
  /** What the rules said, in order (after the implicit keep). */
  actions: Action[];
  /** Set when a rule rejected the message: answer this (5xx) and store nothing. */
  reject: SmtpReply | null;
  /** Folders to store the message in (created on demand); empty = not stored. */
  folders: string[];
  /** IMAP flags for the stored copies. */
  flags: string[];
  /** The message to store: the original with add_header fields prepended. */
  content: Uint8Array;
  /** Redirects, forwards and auto-replies to submit (kind "generated"). */
  outgoing: GeneratedMail[];
  /** Why an action was not carried out (loop protection, vacation suppressed), for the log. */
  skipped: string[];
}

const FLAGS = { flagged: "\\Flagged", seen: "\\Seen" } as const;

/**
 * The Account-Level Rules for one delivery: domain rules, then the account's. Returns values;
 * the caller stores, answers and submits. The only write is the vacation memory
 * (auto_replies): pass the delivery transaction as `db` to make it commit with the store.
 */
export async function runAccountRules(db: Executor, input: AccountRulesInput): Promise<AccountRulesResult> {
  const account = input.account.toLowerCase();
  const sets = await loadDeliveryRules(db, account, input.domain ?? domainOf(account));
  const facts = messageFacts({
    content: input.content,
    sender: input.envelope.sender,
    recipients: [account],
    authenticated: input.authenticated,
  });
  const actions = evaluate([sets.domain, sets.account], facts);
  const result: AccountRulesResult = { actions, reject: null, folders: [], flags: [], content: input.content, outgoing: [], skipped: [] };
  const looping = isLooping(facts.headers, account);
  const added: Array<[string, string]> = [];
  let diverted = false;

  for (const action of actions) {
    switch (action.type) {
      case "reject":
        result.reject = { code: action.code ?? 550, enhanced: "5.7.1", text: action.text ?? "message rejected by the recipient's rules" };
        break;
      case "folder":
        if (!result.folders.includes(action.folder)) result.folders.push(action.folder);
        break;
      case "mark":
        result.flags.push(FLAGS[action.flag]);
        break;
      case "add_header":
        added.push([action.name, action.value]);
        break;
      case "redirect":
        if (looping) {
          result.skipped.push(`redirect to ${action.to.join(", ")}: already redirected by ${account}`);
          diverted = true;
        } else {
          result.outgoing.push(composeRedirect({ account, content: input.content, sender: input.envelope.sender, to: action.to, now: input.now }));
        }
        break;
      case "forward":
        if (looping) result.skipped.push(`forward to ${action.to.join(", ")}: already forwarded by ${account}`);
        else result.outgoing.push(await composeForward({ account, content: input.content, headers: facts.headers, to: action.to, now: input.now }));
        break;
      case "vacation": {
        const decision = await decideVacation(db, {
          account,
          sender: input.envelope.sender,
          headers: facts.headers,
          days: action.days ?? DEFAULT_VACATION_DAYS,
          now: input.now,
        });
        if (decision.reply) {
          result.outgoing.push(
            await composeAutoReply({ account, to: input.envelope.sender, headers: facts.headers, text: action.text, subject: action.subject, now: input.now }),
          );
        } else {
          result.skipped.push(`vacation: ${decision.reason}`);
        }
        break;
      }
      case "discard":
      case "stop":
        break;
    }
  }
  // A redirect refused by loop protection must not lose the message: keep it instead.
  if (diverted && result.folders.length === 0 && !actions.some((a) => a.type === "discard")) result.folders.push("INBOX");
  if (result.reject) return { ...result, folders: [], flags: [], outgoing: [] };
  result.content = prependHeaders(input.content, added);
  return result;
}
