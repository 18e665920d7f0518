/**
 * The contract between local delivery and the Account-Level Rules engine: the backend asks a
 * runner what to do with one message for one account and applies the answer. A leaf module,
 * so the engine (src/rules/) and the backend (src/backend/) share it without depending on
 * each other.
 */

/** Header fields, names lower-cased, values unfolded (not yet RFC 2047-decoded). */
export type RuleHeaders = ReadonlyMap<string, readonly string[]>;

export interface AccountRuleInput {
  account: string;
  domain: string;
  headers: RuleHeaders;
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
  /** Refuse it: 5xx (550 unless the rule names 550-554) with this text; the sender gets a DSN. */
  | { kind: "reject"; text: string; code?: number }
  /** Send it on to these addresses instead of keeping it (envelope sender unchanged). */
  | { kind: "redirect"; to: string[] }
  /** Send a copy to these addresses and keep it too. */
  | { kind: "forward"; to: string[] }
  /** Vacation reply to the sender, at most once per sender per `days`. */
  | { kind: "auto-reply"; subject?: string; text: string; days?: number }
  /** A header field prepended to the stored copy (not to what is redirected or forwarded). */
  | { kind: "add-header"; name: string; value: string }
  /** IMAP flags on the stored copy (\\Flagged, \\Seen...). */
  | { kind: "flags"; flags: string[] }
  /** Evaluate no further rules. */
  | { kind: "stop" };

export interface AccountRuleRunner {
  run(input: AccountRuleInput): AccountRuleAction[] | Promise<AccountRuleAction[]>;
}
