import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Clock } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { mtaStsPolicies } from "../db/schema/index.ts";
import type { DnsResolver } from "../domain/dns.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import type { PolicyFetcher } from "./fetch.ts";
import { parseStsPolicy, type StsPolicy, StsPolicyError, stsRecordId } from "./policy.ts";

/**
 * What applies to mail for a domain: no policy; a policy; or a TXT record whose policy could
 * not be fetched (nothing is enforced, TLS-RPT reports the failure type).
 */
export type StsLookup = { kind: "none" } | { kind: "policy"; policy: StsPolicy } | { kind: "error"; type: "sts-policy-fetch-error" | "sts-policy-invalid" | "sts-webpki-invalid"; error: string };

export interface MtaStsCacheOptions {
  db: Executor;
  resolver: DnsResolver;
  fetcher: PolicyFetcher;
  clock: Clock;
  logger: Logger;
  /** How long the cluster trusts its last DNS check of a domain's _mta-sts record. */
  recheckSeconds?: number;
  /** After a failed fetch, the next attempt waits this long (every message would fetch otherwise). */
  errorRetrySeconds?: number;
  /** A member re-reads the shared row after this long (another member may have refreshed it). */
  memorySeconds?: number;
}

type Row = typeof mtaStsPolicies.$inferSelect;

/**
 * MTA-STS policies by recipient domain, cached twice: in memory per member (most messages cost
 * nothing) and in the mta_sts_policies table, shared by the cluster, so one member's fetch
 * serves all. A policy is refetched when its max_age runs out or the TXT id changes (checked
 * at most every recheckSeconds by the cluster); a vanished TXT record or a failed refresh keeps
 * a policy until it expires (RFC 8461 §5.1: no downgrade by removing DNS records).
 */
export class MtaStsCache {
  private readonly memory = new Map<string, { lookup: StsLookup; until: number }>();
  private readonly inflight = new Map<string, Promise<StsLookup>>();
  private readonly recheckMs: number;
  private readonly errorRetryMs: number;
  private readonly memoryMs: number;

  constructor(private readonly o: MtaStsCacheOptions) {
    this.recheckMs = (o.recheckSeconds ?? 3600) * 1000;
    this.errorRetryMs = (o.errorRetrySeconds ?? 300) * 1000;
    this.memoryMs = (o.memorySeconds ?? 60) * 1000;
  }

  async lookup(domain: string): Promise<StsLookup> {
    const d = domain.toLowerCase();
    const now = this.o.clock.now().getTime();
    const hit = this.memory.get(d);
    if (hit && hit.until > now) return hit.lookup;
    let p = this.inflight.get(d);
    if (!p) {
      p = this.load(d).finally(() => this.inflight.delete(d));
      this.inflight.set(d, p);
    }
    return p;
  }

  /** Forget what this member holds in memory (tests; an operator's refresh). */
  clearMemory(): void {
    this.memory.clear();
  }

  private remember(domain: string, lookup: StsLookup, untilMs: number): StsLookup {
    const now = this.o.clock.now().getTime();
    this.memory.set(domain, { lookup, until: Math.min(untilMs, now + this.memoryMs) });
    return lookup;
  }

  private async load(domain: string): Promise<StsLookup> {
    const now = this.o.clock.now();
    const [row] = await this.o.db.select().from(mtaStsPolicies).where(eq(mtaStsPolicies.domain, domain));
    if (row && now.getTime() < this.nextCheck(row)) return this.remember(domain, fromRow(row, now), this.nextCheck(row));

    let id: string | false;
    try {
      id = await stsRecordId(this.o.resolver, domain);
    } catch (err) {
      // DNS trouble: whatever is cached still holds; nothing new is learnt.
      this.o.logger.debug({ domain, err: coerceError(err).message }, "MTA-STS TXT lookup failed");
      return this.remember(domain, row ? fromRow(row, now) : { kind: "none" }, now.getTime() + this.errorRetryMs);
    }
    const valid = row && row.policyText !== null && row.expiresAt !== null && row.expiresAt > now;
    if (id === false) {
      if (valid) {
        await this.touch(domain, now);
        return this.remember(domain, fromRow(row, now), now.getTime() + this.recheckMs);
      }
      await this.store({ domain, txtId: null, mode: "none", mx: [], maxAge: 0, policyText: null, fetchedAt: null, expiresAt: null, checkedAt: now, errorType: null, error: null });
      return this.remember(domain, { kind: "none" }, now.getTime() + this.recheckMs);
    }
    if (valid && row.txtId === id) {
      await this.touch(domain, now);
      return this.remember(domain, fromRow(row, now), now.getTime() + this.recheckMs);
    }

    const fetched = await this.o.fetcher(domain);
    if (fetched.ok) {
      try {
        const p = parseStsPolicy(fetched.text);
        const expiresAt = new Date(now.getTime() + p.maxAge * 1000);
        await this.store({ domain, txtId: id, mode: p.mode, mx: p.mx, maxAge: p.maxAge, policyText: fetched.text, fetchedAt: now, expiresAt, checkedAt: now, errorType: null, error: null });
        this.o.logger.info({ domain, mode: p.mode, mx: p.mx, maxAge: p.maxAge, id }, "MTA-STS policy fetched");
        const policy: StsPolicy = { domain, txtId: id, mode: p.mode, mx: p.mx, maxAge: p.maxAge, text: fetched.text, expiresAt };
        return this.remember(domain, p.mode === "none" ? { kind: "none" } : { kind: "policy", policy }, now.getTime() + this.recheckMs);
      } catch (err) {
        if (!(err instanceof StsPolicyError)) throw err;
        return this.failed(domain, row, id, now, "sts-policy-invalid", `invalid MTA-STS policy of ${domain}: ${err.message}`);
      }
    }
    return this.failed(domain, row, id, now, fetched.type, fetched.error);
  }

  /** A failed fetch: a still valid older policy goes on; without one the failure is cached briefly. */
  private async failed(domain: string, row: Row | undefined, id: string, now: Date, type: Extract<StsLookup, { kind: "error" }>["type"], error: string): Promise<StsLookup> {
    this.o.logger.warn({ domain, type, error }, "MTA-STS policy fetch failed");
    if (row && row.policyText !== null && row.expiresAt !== null && row.expiresAt > now) {
      await this.o.db.update(mtaStsPolicies).set({ checkedAt: now, errorType: type, error }).where(eq(mtaStsPolicies.domain, domain));
      return this.remember(domain, fromRow(row, now), now.getTime() + this.errorRetryMs);
    }
    await this.store({ domain, txtId: id, mode: "none", mx: [], maxAge: 0, policyText: null, fetchedAt: null, expiresAt: null, checkedAt: now, errorType: type, error });
    return this.remember(domain, { kind: "error", type, error }, now.getTime() + this.errorRetryMs);
  }

  private nextCheck(row: Row): number {
    const base = row.checkedAt.getTime();
    const policyExpiry = row.expiresAt && row.policyText !== null ? row.expiresAt.getTime() : Number.POSITIVE_INFINITY;
    return Math.min(base + (row.errorType && row.policyText === null ? this.errorRetryMs : this.recheckMs), policyExpiry);
  }

  private async touch(domain: string, now: Date): Promise<void> {
    await this.o.db.update(mtaStsPolicies).set({ checkedAt: now }).where(eq(mtaStsPolicies.domain, domain));
  }

  private async store(row: Row): Promise<void> {
    const { domain, ...rest } = row;
    await this.o.db.insert(mtaStsPolicies).values(row).onConflictDoUpdate({ target: mtaStsPolicies.domain, set: rest });
  }
}

/** Rows that hold no policy in force and nobody asked about for a week (domains mailed once). */
export async function purgeMtaStsPolicies(db: Executor, now: Date): Promise<number> {
  const weekAgo = new Date(now.getTime() - 7 * 86400_000);
  const rows = await db
    .delete(mtaStsPolicies)
    .where(and(or(isNull(mtaStsPolicies.expiresAt), lt(mtaStsPolicies.expiresAt, now)), lt(mtaStsPolicies.checkedAt, weekAgo)))
    .returning({ domain: mtaStsPolicies.domain });
  return rows.length;
}

function fromRow(row: Row, now: Date): StsLookup {
  if (row.policyText !== null && row.expiresAt !== null && row.expiresAt > now && row.txtId !== null) {
    if (row.mode !== "enforce" && row.mode !== "testing") return { kind: "none" };
    return { kind: "policy", policy: { domain: row.domain, txtId: row.txtId, mode: row.mode, mx: row.mx, maxAge: row.maxAge, text: row.policyText, expiresAt: row.expiresAt } };
  }
  if (row.errorType === "sts-policy-fetch-error" || row.errorType === "sts-policy-invalid" || row.errorType === "sts-webpki-invalid") {
    return { kind: "error", type: row.errorType, error: row.error ?? "" };
  }
  return { kind: "none" };
}
