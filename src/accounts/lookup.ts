import { eq } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { accounts, aliases, domains } from "../db/schema/index.ts";
import { domainOf } from "../domain/address.ts";
import { canonicalAddress } from "./store.ts";

export type LocalRecipient =
  /** The domain is not ours: relaying rules apply. */
  | { kind: "remote" }
  | { kind: "account"; address: string; enabled: boolean; homeMember: string | null; quotaBytes: number | null }
  | { kind: "alias"; address: string; targets: string[] }
  /** Our domain, but no such account or alias (and no catch-all). */
  | { kind: "unknown"; domain: string };

export async function isLocalDomain(db: Executor, domain: string): Promise<boolean> {
  const rows = await db.select({ name: domains.name }).from(domains).where(eq(domains.name, domain.toLowerCase().replace(/\.$/, "")));
  return rows.length > 0;
}

/** What a recipient address means here: account, alias, unknown local, or remote. */
export async function resolveRecipient(db: Executor, address: string): Promise<LocalRecipient> {
  const a = canonicalAddress(address);
  const domain = domainOf(a);
  const [d] = await db.select().from(domains).where(eq(domains.name, domain));
  if (!d) return { kind: "remote" };
  const found = await findAccountOrAlias(db, a);
  if (found) return found;
  if (d.catchAll) {
    const catchAll = await findAccountOrAlias(db, canonicalAddress(d.catchAll));
    if (catchAll) return catchAll;
  }
  return { kind: "unknown", domain };
}

async function findAccountOrAlias(db: Executor, a: string): Promise<LocalRecipient | null> {
  const [acct] = await db.select().from(accounts).where(eq(accounts.address, a));
  if (acct) return { kind: "account", address: acct.address, enabled: acct.enabled, homeMember: acct.homeMember, quotaBytes: acct.quotaBytes };
  const [alias] = await db.select().from(aliases).where(eq(aliases.address, a));
  if (alias) return { kind: "alias", address: alias.address, targets: alias.targets.split(",").filter(Boolean) };
  return null;
}
