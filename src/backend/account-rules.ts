// The seam's types live in the leaf module shared with the engine.
export type { AccountRuleAction, AccountRuleInput, AccountRuleRunner } from "../domain/account-rules.ts";
import type { AccountRuleAction, AccountRuleRunner } from "../domain/account-rules.ts";

/** No rules engine: every message is stored in INBOX. */
export const defaultAccountRuleRunner: AccountRuleRunner = {
  run: () => [{ kind: "store", folder: "INBOX" }],
};

/** What the actions add up to. */
export interface RulePlan {
  /** Set when a rule refused the message: answer this 5xx and store nothing. */
  reject: { code: number; text: string } | null;
  /** Folder to store in, or null (discarded or redirected away). */
  folder: string | null;
  flags: string[];
  /** Header fields prepended to the stored copy, in rule order. */
  headers: Array<[name: string, value: string]>;
  redirect: string[];
  forward: string[];
  autoReply: { subject?: string; text: string; days: number } | null;
}

/**
 * Fold the actions in order, up to `stop`. A reject wins over everything. Keeping is implicit
 * (INBOX) unless the rules discarded or redirected the message without storing it: losing
 * mail has to be asked for.
 */
export function planActions(actions: readonly AccountRuleAction[]): RulePlan {
  const plan: RulePlan = { reject: null, folder: null, flags: [], headers: [], redirect: [], forward: [], autoReply: null };
  let dropped = false;
  for (const a of actions) {
    if (a.kind === "stop") break;
    switch (a.kind) {
      case "store":
        plan.folder = a.folder;
        break;
      case "discard":
        dropped = true;
        break;
      case "reject":
        plan.reject ??= { code: a.code ?? 550, text: a.text };
        break;
      case "redirect":
        dropped = true;
        plan.redirect.push(...a.to);
        break;
      case "forward":
        plan.forward.push(...a.to);
        break;
      case "auto-reply":
        plan.autoReply = { subject: a.subject, text: a.text, days: a.days ?? 7 };
        break;
      case "add-header":
        plan.headers.push([a.name, a.value]);
        break;
      case "flags":
        for (const f of a.flags) if (!plan.flags.includes(f)) plan.flags.push(f);
        break;
    }
  }
  if (plan.folder === null && !dropped) plan.folder = "INBOX";
  return plan;
}

const FOLDER_RE = /^[^\u0000-\u001f\u007f*%]{1,200}$/;

/** A folder name a rule may create; anything else falls back to INBOX. */
export function validFolderName(name: string): boolean {
  return FOLDER_RE.test(name) && name.trim() === name && !name.split("/").some((p) => p === "");
}
