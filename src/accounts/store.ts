import { eq } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { accounts, aliases, domains, mailboxFolders } from "../db/schema/index.ts";
import { domainOf } from "../domain/address.ts";
import { noteDirectoryWrite } from "./directory-writes.ts";
import { hashPassword } from "./password.ts";
import { canonicalAddress } from "../domain/address.ts";
import { UserError } from "../domain/user-error.ts";

/** Domains, accounts and aliases: the administration primitives the CLI and the admin API share. */

export class AccountError extends UserError {
  override name = "AccountError";
  constructor(message: string, status: 400 | 404 | 409 = 400) {
    super(message, status);
  }
}

// Addresses are stored lower-cased (src/domain/address.ts); re-exported for the account modules.
export { canonicalAddress };

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const LOCAL_RE = /^[a-z0-9!#$&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$&'*+/=?^_`{|}~-]+)*$/u;

export function validateDomain(name: string): string {
  const d = name.trim().toLowerCase().replace(/\.$/, "");
  if (!DOMAIN_RE.test(d)) throw new AccountError(`invalid domain name "${name}"`);
  return d;
}

export function validateAddress(address: string): string {
  const a = canonicalAddress(address);
  const at = a.lastIndexOf("@");
  if (at <= 0) throw new AccountError(`invalid address "${address}": expected local@domain`);
  const local = a.slice(0, at);
  if (local.length > 64 || !LOCAL_RE.test(local)) throw new AccountError(`invalid local part in "${address}"`);
  validateDomain(a.slice(at + 1));
  return a;
}

export async function addDomain(db: Executor, name: string): Promise<string> {
  const d = validateDomain(name);
  const rows = await db.insert(domains).values({ name: d }).onConflictDoNothing().returning({ name: domains.name });
  if (rows.length === 0) throw new AccountError(`domain ${d} exists already`, 409);
  noteDirectoryWrite();
  return d;
}

export async function removeDomain(db: Executor, name: string): Promise<void> {
  const rows = await db.delete(domains).where(eq(domains.name, name.toLowerCase())).returning({ name: domains.name });
  if (rows.length === 0) throw new AccountError(`no domain ${name}`, 404);
  noteDirectoryWrite();
}

export async function listDomains(db: Executor) {
  return db.select().from(domains).orderBy(domains.name);
}

export interface NewAccount {
  address: string;
  password?: string | null;
  quotaBytes?: number | null;
  homeMember?: string | null;
}

/** Creates the account and its INBOX in one transaction. */
export async function addAccount(db: Executor, input: NewAccount): Promise<string> {
  const address = validateAddress(input.address);
  const domain = domainOf(address);
  if (input.quotaBytes !== undefined && input.quotaBytes !== null && (!Number.isInteger(input.quotaBytes) || input.quotaBytes < 0)) {
    throw new AccountError("quota must be a whole number of bytes");
  }
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  await db.transaction(async (tx) => {
    const [d] = await tx.select().from(domains).where(eq(domains.name, domain));
    if (!d) throw new AccountError(`domain ${domain} is not a local domain; add it first`, 404);
    const [alias] = await tx.select().from(aliases).where(eq(aliases.address, address));
    if (alias) throw new AccountError(`${address} is an alias`, 409);
    const rows = await tx
      .insert(accounts)
      .values({ address, domain, passwordHash, quotaBytes: input.quotaBytes ?? null, homeMember: input.homeMember ?? null })
      .onConflictDoNothing()
      .returning({ address: accounts.address });
    if (rows.length === 0) throw new AccountError(`account ${address} exists already`, 409);
    await tx.insert(mailboxFolders).values({ account: address, name: "INBOX" });
  });
  noteDirectoryWrite();
  return address;
}

export async function removeAccount(db: Executor, address: string): Promise<void> {
  const rows = await db.delete(accounts).where(eq(accounts.address, canonicalAddress(address))).returning({ a: accounts.address });
  if (rows.length === 0) throw new AccountError(`no account ${address}`, 404);
  noteDirectoryWrite();
}

export async function listAccounts(db: Executor, domain?: string) {
  const q = db
    .select({
      address: accounts.address,
      domain: accounts.domain,
      quotaBytes: accounts.quotaBytes,
      homeMember: accounts.homeMember,
      enabled: accounts.enabled,
      createdAt: accounts.createdAt,
    })
    .from(accounts);
  return domain ? q.where(eq(accounts.domain, domain.toLowerCase())).orderBy(accounts.address) : q.orderBy(accounts.address);
}

export async function addAlias(db: Executor, address: string, targets: string[]): Promise<string> {
  const a = validateAddress(address);
  if (targets.length === 0) throw new AccountError("an alias needs at least one target");
  const t = targets.map(validateAddress);
  const domain = domainOf(a);
  await db.transaction(async (tx) => {
    const [d] = await tx.select().from(domains).where(eq(domains.name, domain));
    if (!d) throw new AccountError(`domain ${domain} is not a local domain; add it first`, 404);
    const [acct] = await tx.select({ a: accounts.address }).from(accounts).where(eq(accounts.address, a));
    if (acct) throw new AccountError(`${a} is an account`, 409);
    const rows = await tx.insert(aliases).values({ address: a, domain, targets: t.join(",") }).onConflictDoNothing().returning({ a: aliases.address });
    if (rows.length === 0) throw new AccountError(`alias ${a} exists already`, 409);
  });
  noteDirectoryWrite();
  return a;
}

export async function removeAlias(db: Executor, address: string): Promise<void> {
  const rows = await db.delete(aliases).where(eq(aliases.address, canonicalAddress(address))).returning({ a: aliases.address });
  if (rows.length === 0) throw new AccountError(`no alias ${address}`, 404);
  noteDirectoryWrite();
}

export async function listAliases(db: Executor) {
  return db.select().from(aliases).orderBy(aliases.address);
}
