import { and, asc, count, eq, gt, ilike, isNull, or, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { pgArray, queryRows, date, dateOrNull, str, strOrNull } from "../db/rows.ts";
import { suppressions } from "../db/schema/index.ts";
import { type BounceClass, isBounceClass } from "../domain/bounce-class.ts";
import { canonicalAddress } from "../domain/address.ts";
import { UserError } from "../domain/user-error.ts";

export type SuppressionSource = "manual" | "bounce";

export interface Suppression {
  address: string;
  reason: string;
  source: SuppressionSource;
  bounceClass: BounceClass | null;
  createdAt: Date;
  expiresAt: Date | null;
  createdBy: string;
}

/** What an operator or the relay asks to suppress; createdAt comes from the injected clock. */
export interface SuppressionInput {
  address: string;
  reason: string;
  expiresAt?: Date | null;
}

export class SuppressionError extends UserError {
  override name = "SuppressionError";
}

const MAX_ADDRESS = 320;
const MAX_REASON = 500;


/** The problem with an address for the list, or null when it is acceptable. */
export function addressProblem(address: string): string | null {
  const a = canonicalAddress(address);
  if (a === "") return "address is empty";
  if (a.length > MAX_ADDRESS) return `address is longer than ${MAX_ADDRESS} characters`;
  if (/[\s<>,;"]/.test(a)) return "address contains a space, quote, comma, semicolon or angle bracket";
  const at = a.lastIndexOf("@");
  if (at <= 0 || at === a.length - 1) return "address must be local-part@domain";
  return null;
}

export function reasonProblem(reason: string): string | null {
  if (reason.trim() === "") return "reason is empty";
  if (reason.length > MAX_REASON) return `reason is longer than ${MAX_REASON} characters`;
  return null;
}

function validate(input: SuppressionInput): void {
  const problem = addressProblem(input.address) ?? reasonProblem(input.reason);
  if (problem) throw new SuppressionError(problem);
}

function fromRow(r: typeof suppressions.$inferSelect): Suppression {
  return {
    address: r.address,
    reason: r.reason,
    source: r.source === "bounce" ? "bounce" : "manual",
    bounceClass: r.bounceClass && isBounceClass(r.bounceClass) ? r.bounceClass : null,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    createdBy: r.createdBy,
  };
}

/** Whether a row applies at `now` (an expired row is kept for the record but suppresses nothing). */
export function isActive(s: Pick<Suppression, "expiresAt">, now: Date): boolean {
  return s.expiresAt === null || s.expiresAt.getTime() > now.getTime();
}

export interface ListSuppressionsParams {
  /** Case-insensitive substring of the address or reason. */
  search?: string;
  limit: number;
  offset: number;
  /** Leave out expired rows. */
  activeAt?: Date;
}

export async function listSuppressions(db: Executor, p: ListSuppressionsParams): Promise<{ total: number; items: Suppression[] }> {
  const conditions = [];
  if (p.search) {
    // LIKE wildcards in the search are literal.
    const pattern = `%${p.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(or(ilike(suppressions.address, pattern), ilike(suppressions.reason, pattern)));
  }
  if (p.activeAt) conditions.push(or(isNull(suppressions.expiresAt), gt(suppressions.expiresAt, p.activeAt)));
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [totalRow] = await db.select({ n: count() }).from(suppressions).where(where);
  const rows = await db.select().from(suppressions).where(where).orderBy(asc(suppressions.address)).limit(p.limit).offset(p.offset);
  return { total: totalRow?.n ?? 0, items: rows.map(fromRow) };
}

export async function getSuppression(db: Executor, address: string): Promise<Suppression | null> {
  const [row] = await db.select().from(suppressions).where(eq(suppressions.address, canonicalAddress(address)));
  return row ? fromRow(row) : null;
}

export interface AddSuppressionsParams {
  entries: readonly SuppressionInput[];
  source: SuppressionSource;
  bounceClass?: BounceClass | null;
  createdBy: string;
  now: Date;
}

/**
 * Add (or replace: the latest reason and expiry win) every entry in one statement, so a list
 * is written whole or not at all. Entries are validated first; a bad one throws before any write.
 */
export async function addSuppressions(db: Executor, p: AddSuppressionsParams): Promise<number> {
  if (p.entries.length === 0) return 0;
  for (const e of p.entries) validate(e);
  // A later duplicate in the same list wins (one row per address in the statement).
  const byAddress = new Map(p.entries.map((e) => [canonicalAddress(e.address), e]));
  const entries = [...byAddress.entries()];
  const rows = await queryRows(
    db,
    sql`
      INSERT INTO suppressions (address, reason, source, bounce_class, created_at, expires_at, created_by)
      SELECT v.address, v.reason, ${p.source}, ${p.bounceClass ?? null}, ${p.now.toISOString()}::timestamptz, v.expires_at, ${p.createdBy}
      FROM unnest(
        ${pgArray(entries.map(([a]) => a))}::text[],
        ${pgArray(entries.map(([, e]) => e.reason.trim()))}::text[],
        ${pgArray(entries.map(([, e]) => (e.expiresAt ? e.expiresAt.toISOString() : null)))}::timestamptz[]
      ) AS v(address, reason, expires_at)
      ON CONFLICT (address) DO UPDATE
        SET reason = excluded.reason, source = excluded.source, bounce_class = excluded.bounce_class,
            created_at = excluded.created_at, expires_at = excluded.expires_at, created_by = excluded.created_by
      RETURNING 1`,
  );
  return rows.length;
}

/**
 * Suppress addresses after a bounce. A manual entry that still applies is left as the operator
 * made it; an older bounce entry or an expired one is replaced (new reason and expiry).
 */
export async function suppressAfterBounce(db: Executor, p: { entries: readonly SuppressionInput[]; bounceClass: BounceClass; member: string; now: Date }): Promise<number> {
  const valid = p.entries.filter((e) => addressProblem(e.address) === null);
  if (valid.length === 0) return 0;
  const byAddress = new Map(valid.map((e) => [canonicalAddress(e.address), e]));
  const entries = [...byAddress.entries()];
  const rows = await queryRows(
    db,
    sql`
      INSERT INTO suppressions (address, reason, source, bounce_class, created_at, expires_at, created_by)
      SELECT v.address, v.reason, 'bounce', ${p.bounceClass}, ${p.now.toISOString()}::timestamptz, v.expires_at, ${`member:${p.member}`}
      FROM unnest(
        ${pgArray(entries.map(([a]) => a))}::text[],
        ${pgArray(entries.map(([, e]) => e.reason.slice(0, MAX_REASON)))}::text[],
        ${pgArray(entries.map(([, e]) => (e.expiresAt ? e.expiresAt.toISOString() : null)))}::timestamptz[]
      ) AS v(address, reason, expires_at)
      ON CONFLICT (address) DO UPDATE
        SET reason = excluded.reason, source = excluded.source, bounce_class = excluded.bounce_class, created_at = excluded.created_at,
            expires_at = excluded.expires_at, created_by = excluded.created_by
        WHERE suppressions.source = 'bounce' OR suppressions.expires_at <= ${p.now.toISOString()}::timestamptz
      RETURNING 1`,
  );
  return rows.length;
}

/** Remove one address; false when it was not on the list. */
export async function removeSuppression(db: Executor, address: string): Promise<boolean> {
  const rows = await db.delete(suppressions).where(eq(suppressions.address, canonicalAddress(address))).returning({ a: suppressions.address });
  return rows.length > 0;
}

/**
 * The rows that apply at `now` to any of `addresses`, by normalised address: one indexed
 * query for a whole batch of recipients (the relay asks once per message).
 */
export async function activeSuppressions(db: Executor, addresses: readonly string[], now: Date): Promise<Map<string, Suppression>> {
  const found = new Map<string, Suppression>();
  if (addresses.length === 0) return found;
  const wanted = [...new Set(addresses.map(canonicalAddress))];
  const rows = await queryRows(
    db,
    sql`SELECT address, reason, source, bounce_class, created_at, expires_at, created_by FROM suppressions
        WHERE address = ANY(${pgArray(wanted)}::text[]) AND (expires_at IS NULL OR expires_at > ${now.toISOString()}::timestamptz)`,
  );
  for (const r of rows) {
    const bounceClass = strOrNull(r.bounce_class);
    found.set(str(r.address), {
      address: str(r.address),
      reason: str(r.reason),
      source: str(r.source) === "bounce" ? "bounce" : "manual",
      bounceClass: bounceClass && isBounceClass(bounceClass) ? bounceClass : null,
      createdAt: date(r.created_at),
      expiresAt: dateOrNull(r.expires_at),
      createdBy: str(r.created_by),
    });
  }
  return found;
}

/** Every row, in address order (CSV export). */
export async function allSuppressions(db: Executor): Promise<Suppression[]> {
  const rows = await db.select().from(suppressions).orderBy(asc(suppressions.address));
  return rows.map(fromRow);
}
