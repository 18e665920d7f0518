import type { MessageHeaders } from "./headers.ts";

/**
 * Loop protection for mail the rules generate: every redirect or forward names the account
 * that generated it in this header (a comma-separated list, carried over on forwards), and an
 * account never redirects or forwards a message that already names it.
 */
export const LOOP_HEADER = "X-Mailcluster-Loop";

/** The backend's own resend path (src/backend/generated-mail.ts) marks mail with this one; honour both. */
export const BACKEND_LOOP_HEADER = "X-Mailcluster-Redirected-By";

/** More generations than this and the message is treated as looping whoever generated it. */
export const MAX_LOOP_HOPS = 20;

export function loopAccounts(headers: MessageHeaders): string[] {
  return [...headers.all(LOOP_HEADER), ...headers.all(BACKEND_LOOP_HEADER)]
    .flatMap((v) => v.split(","))
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== "");
}

export function isLooping(headers: MessageHeaders, account: string): boolean {
  const seen = loopAccounts(headers);
  return seen.length >= MAX_LOOP_HOPS || seen.includes(account.toLowerCase());
}
