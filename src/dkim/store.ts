import type { KeyObject } from "node:crypto";
import { and, asc, desc, eq } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { dkimKeys, domains } from "../db/schema/index.ts";
import { type DkimAlgorithm, type DkimDnsRecord, type DkimKeyGenerator, dnsRecord, nodeKeyGenerator, parseAlgorithm } from "./keys.ts";
import { UserError } from "../domain/user-error.ts";

/** What the API and CLI show of a key: never the private half. */
export interface DkimKeyInfo {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  active: boolean;
  createdAt: Date;
  dns: DkimDnsRecord;
}

/** A key as the signer needs it; only the keyring reads these. */
export interface DkimSigningKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKey: string;
  /** The PEM parsed once (the keyring does it): parsing costs more than an Ed25519 signature. */
  parsed?: KeyObject;
  createdAt: Date;
}

export class DkimKeyError extends UserError {
  override name = "DkimKeyError";
  constructor(message: string, status: 400 | 404 | 409 = 400) {
    super(message, status);
  }
}

// RFC 6376 §3.1: a selector is a sub-domain: dot-separated labels of letters, digits and inner hyphens.
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function validateSelector(selector: string): string {
  const s = selector.trim().toLowerCase();
  if (s.length === 0 || s.length > 200 || !SELECTOR.test(s)) {
    throw new DkimKeyError(`bad selector "${selector}": letters, digits and inner hyphens, dot-separated labels of at most 63`);
  }
  return s;
}

/** "mc202612": the month it was made, so a rotation next month gets a new name by itself. */
export function defaultSelector(now: Date): string {
  return `mc${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
}

export interface GenerateDkimKeyInput {
  domain: string;
  selector?: string;
  /** "rsa" | "ed25519" | the full a= value; default rsa-sha256 (what every verifier knows). */
  algorithm?: string;
  active?: boolean;
  now: Date;
  generator?: DkimKeyGenerator;
}

/**
 * Checks everything before generating (an unknown domain or a taken selector costs no key),
 * then inserts; the primary key settles a race between two admins.
 */
export async function generateDkimKey(db: Executor, input: GenerateDkimKeyInput): Promise<DkimKeyInfo> {
  const algorithm = parseAlgorithm(input.algorithm ?? "rsa");
  if (!algorithm) throw new DkimKeyError(`bad algorithm "${input.algorithm}": rsa (rsa-sha256, 2048-bit) or ed25519 (ed25519-sha256)`);
  const selector = validateSelector(input.selector ?? defaultSelector(input.now));
  const domain = input.domain.trim().toLowerCase();
  const [known] = await db.select({ name: domains.name }).from(domains).where(eq(domains.name, domain));
  if (!known) throw new DkimKeyError(`no such local domain "${input.domain}"`, 404);
  if (await findKey(db, domain, selector)) throw new DkimKeyError(`${domain} already has a key with selector "${selector}"`, 409);
  const pair = await (input.generator ?? nodeKeyGenerator)(algorithm);
  const rows = await db
    .insert(dkimKeys)
    .values({ domain, selector, algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey, createdAt: input.now, active: input.active ?? true })
    .onConflictDoNothing()
    .returning({ domain: dkimKeys.domain });
  if (rows.length === 0) throw new DkimKeyError(`${domain} already has a key with selector "${selector}"`, 409);
  return info({ domain, selector, algorithm, publicKey: pair.publicKey, active: input.active ?? true, createdAt: input.now });
}

const PUBLIC_COLUMNS = {
  domain: dkimKeys.domain,
  selector: dkimKeys.selector,
  algorithm: dkimKeys.algorithm,
  publicKey: dkimKeys.publicKey,
  active: dkimKeys.active,
  createdAt: dkimKeys.createdAt,
};

async function findKey(db: Executor, domain: string, selector: string): Promise<DkimKeyInfo | null> {
  const [row] = await db.select(PUBLIC_COLUMNS).from(dkimKeys).where(and(eq(dkimKeys.domain, domain), eq(dkimKeys.selector, selector)));
  return row ? info(row) : null;
}

export async function getDkimKey(db: Executor, domain: string, selector: string): Promise<DkimKeyInfo> {
  const key = await findKey(db, domain.trim().toLowerCase(), selector.trim().toLowerCase());
  if (!key) throw new DkimKeyError(`no DKIM key "${selector}" for ${domain}`, 404);
  return key;
}

export async function listDkimKeys(db: Executor, domain?: string): Promise<DkimKeyInfo[]> {
  const q = db.select(PUBLIC_COLUMNS).from(dkimKeys);
  const rows = await (domain ? q.where(eq(dkimKeys.domain, domain.trim().toLowerCase())) : q).orderBy(asc(dkimKeys.domain), desc(dkimKeys.createdAt), asc(dkimKeys.selector));
  return rows.map(info);
}

export async function removeDkimKey(db: Executor, domain: string, selector: string): Promise<void> {
  const rows = await db
    .delete(dkimKeys)
    .where(and(eq(dkimKeys.domain, domain.trim().toLowerCase()), eq(dkimKeys.selector, selector.trim().toLowerCase())))
    .returning({ domain: dkimKeys.domain });
  if (rows.length === 0) throw new DkimKeyError(`no DKIM key "${selector}" for ${domain}`, 404);
}

/** Activate (sign with it) or deactivate (keep it published, sign with the others) a key. */
export async function setDkimKeyActive(db: Executor, domain: string, selector: string, active: boolean): Promise<DkimKeyInfo> {
  const rows = await db
    .update(dkimKeys)
    .set({ active })
    .where(and(eq(dkimKeys.domain, domain.trim().toLowerCase()), eq(dkimKeys.selector, selector.trim().toLowerCase())))
    .returning(PUBLIC_COLUMNS);
  if (rows.length === 0) throw new DkimKeyError(`no DKIM key "${selector}" for ${domain}`, 404);
  return info(rows[0]);
}

/** Every active key with its private half, for the in-memory signing keyring. */
export async function loadSigningKeys(db: Executor): Promise<DkimSigningKey[]> {
  const rows = await db
    .select({ domain: dkimKeys.domain, selector: dkimKeys.selector, algorithm: dkimKeys.algorithm, privateKey: dkimKeys.privateKey, createdAt: dkimKeys.createdAt })
    .from(dkimKeys)
    .where(eq(dkimKeys.active, true))
    .orderBy(asc(dkimKeys.domain), desc(dkimKeys.createdAt));
  return rows.flatMap((r) => {
    const algorithm = parseAlgorithm(r.algorithm);
    return algorithm ? [{ ...r, algorithm }] : [];
  });
}

function info(r: { domain: string; selector: string; algorithm: string; publicKey: string; active: boolean; createdAt: Date }): DkimKeyInfo {
  const algorithm = parseAlgorithm(r.algorithm) ?? "rsa-sha256";
  return { domain: r.domain, selector: r.selector, algorithm, active: r.active, createdAt: r.createdAt, dns: dnsRecord(r.domain, r.selector, algorithm, r.publicKey) };
}
