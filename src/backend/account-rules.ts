import type { Headers } from "./headers.ts";

/**
 * The seam between delivery and the Account-Level Rules engine (src/rules/): the store asks a
 * runner what to do with one message for one account, and applies the answer. The engine
 * evaluates the domain's rules then the account's; this module only fixes the contract.
 */
export interface AccountRuleInput {
  account: string;
  domain: string;
  headers: Headers;
  envelope: { sender: string; recipient: string };
  size: number;
  /** The message was submitted by an authenticated client. */
  authenticated: boolean;
  /** The raw rule sets stored on the domain and the account (JSON), as the engine reads them. */
  domainRules: unknown;
  accountRules: unknown;
}

export type AccountRuleAction =
  /** File the message in this folder (created on demand). */
  | { kind: "store"; folder: string }
  /** Drop it: nothing stored, 2xx to the sender. */
  | { kind: "discard" }
  /** Refuse it: 5xx with this text; the sender gets a DSN. */
  | { kind: "reject"; text: string }
  /** Send it on to these addresses instead of keeping it (envelope sender unchanged). */
  | { kind: "redirect"; to: string[] }
  /** Send a copy to these addresses and keep it too. */
  | { kind: "forward"; to: string[] }
  /** Vacation reply to the sender, at most once per sender per `days`. */
  | { kind: "auto-reply"; subject?: string; text: string; days?: number }
  /** IMAP flags on the stored copy (\\Flagged, \\Seen...). */
  | { kind: "flags"; flags: string[] }
  /** Evaluate no further rules. */
  | { kind: "stop" };

export interface AccountRuleRunner {
  run(input: AccountRuleInput): AccountRuleAction[] | Promise<AccountRuleAction[]>;
}

/** No rules engine: every message is stored in INBOX. */
export const defaultAccountRuleRunner: AccountRuleRunner = {
  run: () => [{ kind: "store", folder: "INBOX" }],
};

/** What the actions add up to. */
export interface RulePlan {
  reject: string | null;
  /** Folder to store in, or null (discarded or redirected away). */
  folder: string | null;
  flags: string[];
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
  const plan: RulePlan = { reject: null, folder: null, flags: [], redirect: [], forward: [], autoReply: null };
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
        plan.reject ??= a.text;
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
