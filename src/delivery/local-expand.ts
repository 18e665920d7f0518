import type { LocalRecipient } from "../accounts/lookup.ts";
import type { ClaimedRecipient } from "../domain/delivery.ts";
import { deferred, failed } from "../domain/outcome.ts";
import type { DeliveryOutcome } from "../domain/types.ts";
import type { Logger } from "../util/logger.ts";

const MAX_ALIAS_DEPTH = 5;

/** What delivery needs of the directory (ctx.directory answers from memory). */
export interface RecipientDirectory {
  resolve(address: string): LocalRecipient;
}

export interface TargetAccount {
  address: string;
  homeMember: string | null;
}

/** What one queue recipient turned into: accounts here, remote addresses, or an answer already. */
export interface Expansion {
  recipient: ClaimedRecipient;
  accounts: TargetAccount[];
  remote: string[];
  /** Set when this recipient is an alias that forwards to remote targets. */
  alias: string | null;
  outcome: DeliveryOutcome | null;
}

/** Expand aliases (nested up to 5 levels, each address once) into accounts and remote targets. */
export function expand(directory: RecipientDirectory, r: ClaimedRecipient, logger: Logger): Expansion {
  const e: Expansion = { recipient: r, accounts: [], remote: [], alias: null, outcome: null };
  const seen = new Set<string>();
  const walk = (address: string, depth: number, top: boolean): void => {
    const key = address.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    const found = directory.resolve(address);
    if (found.kind === "account") {
      e.accounts.push({ address: found.address, homeMember: found.homeMember });
    } else if (found.kind === "alias") {
      if (top) e.alias = found.address;
      if (depth >= MAX_ALIAS_DEPTH) {
        e.outcome = failed(550, "5.4.6", `alias ${found.address} nests deeper than ${MAX_ALIAS_DEPTH} levels`);
        return;
      }
      for (const t of found.targets) walk(t, depth + 1, false);
    } else if (found.kind === "remote") {
      // The router sends only local domains here; a domain removed meanwhile is not ours to relay.
      if (top) e.outcome = deferred(451, "4.3.0", `${address} is not in a local domain`);
      else e.remote.push(address);
    } else if (top) {
      e.outcome = failed(550, "5.1.1", `no such user here: ${address}`);
    } else {
      logger.warn({ messageId: r.messageId, alias: e.alias, target: address }, "alias target does not exist; skipped");
    }
  };
  walk(r.address, 0, true);
  if (!e.outcome && e.accounts.length === 0 && e.remote.length === 0) e.outcome = failed(550, "5.1.1", `alias ${r.address} leads to no existing address`);
  return e;
}

/** A permanent "no such address" from the directory is worth one refresh before it is believed. */
export function unknownHere(e: Expansion): boolean {
  return e.outcome?.kind === "failed" && e.outcome.reply.enhanced === "5.1.1";
}
