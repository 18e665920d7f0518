// Who may send mail to domains that are not ours, as a seam: the SMTP frontend's RelayPolicy
// (src/smtp/relay-policy.ts) answers it; the RCPT check and DKIM's sign-or-verify choice
// (src/dkim/submission.ts) ask it. A leaf, so DKIM need not import the frontend.

export type RelayGrant = "authenticated" | "trusted-network" | "cluster-member";

export interface RelayClient {
  address: string;
  /** The AUTH identity: an account address, or `member:<name>` for another member. */
  authenticatedUser: string | null;
}

export interface RelayGrants {
  /** How this client may relay; null: it may not (554 5.7.1). */
  grant(client: RelayClient): Promise<RelayGrant | null>;
}
