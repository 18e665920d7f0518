import type { Clock } from "../domain/types.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { acquireAccountLease, acquireAccountLeases, type LeaseAcquireResult, releaseAccountLeases } from "../cluster/account-leases.ts";

export type OpenResult =
  /** We may write; epoch null = static account (its home member is us). */
  | { kind: "open"; epoch: number | null }
  /** Another member holds (dynamic) or is the home of (static) the account. */
  | { kind: "elsewhere"; owner: string }
  /** This backend is shutting down and opens nothing more. */
  | { kind: "closing" };

interface Held {
  epoch: number;
  leaseUntil: number;
  lastUsed: number;
}

export interface AccountOwnershipOptions {
  db: Db;
  member: string;
  clock: Clock;
  logger: Logger;
  leaseMs: () => number;
  idleMs: () => number;
}

/**
 * The accounts this backend has open. Dynamic accounts are opened through the lease table
 * and kept in memory; a lease less than half-fresh is renewed on use, `maintain()` renews
 * the busy ones and gives back the idle ones, `releaseAll()` runs on shutdown. The memory is
 * only a shortcut: the store re-checks the epoch in the database.
 */
export class AccountOwnership {
  private readonly held = new Map<string, Held>();
  private closed = false;

  constructor(private readonly o: AccountOwnershipOptions) {}

  get heldCount(): number {
    return this.held.size;
  }

  async open(account: string, homeMember: string | null): Promise<OpenResult> {
    if (this.closed) return { kind: "closing" };
    if (homeMember !== null) return homeMember === this.o.member ? { kind: "open", epoch: null } : { kind: "elsewhere", owner: homeMember };
    const now = this.o.clock.now().getTime();
    const leaseMs = this.o.leaseMs();
    const cached = this.held.get(account);
    if (cached && cached.leaseUntil - now > leaseMs / 2) {
      cached.lastUsed = now;
      return { kind: "open", epoch: cached.epoch };
    }
    return this.took(account, await acquireAccountLease(this.o.db, { account, member: this.o.member, now: new Date(now), leaseMs }), now);
  }

  /**
   * open() for many accounts: the ones held fresh in memory cost nothing, the rest are
   * opened together in one statement.
   */
  async openMany(accounts: ReadonlyArray<{ account: string; homeMember: string | null }>): Promise<Map<string, OpenResult>> {
    const out = new Map<string, OpenResult>();
    const now = this.o.clock.now().getTime();
    const leaseMs = this.o.leaseMs();
    const ask: string[] = [];
    for (const { account, homeMember } of accounts) {
      if (out.has(account)) continue;
      if (this.closed) out.set(account, { kind: "closing" });
      else if (homeMember !== null) out.set(account, homeMember === this.o.member ? { kind: "open", epoch: null } : { kind: "elsewhere", owner: homeMember });
      else {
        const cached = this.held.get(account);
        if (cached && cached.leaseUntil - now > leaseMs / 2) {
          cached.lastUsed = now;
          out.set(account, { kind: "open", epoch: cached.epoch });
        } else if (!ask.includes(account)) ask.push(account);
      }
    }
    if (ask.length === 0) return out;
    let results: Map<string, LeaseAcquireResult>;
    try {
      results = await acquireAccountLeases(this.o.db, { accounts: ask, member: this.o.member, now: new Date(now), leaseMs });
    } catch (err) {
      // One account removed under us fails the whole statement: open them one by one.
      this.o.logger.debug({ err: coerceError(err).message }, "opening accounts together failed; one by one");
      for (const account of ask) out.set(account, await this.open(account, null));
      return out;
    }
    for (const account of ask) {
      const r = results.get(account);
      if (r) out.set(account, this.took(account, r, now));
    }
    return out;
  }

  /** Whether this backend holds the account's lease, as far as its memory knows (no query). */
  holds(account: string): boolean {
    const h = this.held.get(account);
    return h !== undefined && h.leaseUntil > this.o.clock.now().getTime();
  }

  private took(account: string, r: LeaseAcquireResult, now: number): OpenResult {
    const cached = this.held.get(account);
    if (r.kind === "held") {
      if (cached && cached.epoch !== r.epoch) this.o.logger.warn({ account, from: cached.epoch, to: r.epoch }, "account lease had expired; reopened under a new epoch");
      this.held.set(account, { epoch: r.epoch, leaseUntil: r.leaseUntil.getTime(), lastUsed: now });
      return { kind: "open", epoch: r.epoch };
    }
    this.held.delete(account);
    return { kind: "elsewhere", owner: r.owner };
  }

  /** The store found the epoch changed: forget the account so the next delivery asks again. */
  lost(account: string): void {
    this.held.delete(account);
  }

  /** Renew what was used within the idle time, release the rest. */
  async maintain(): Promise<void> {
    const now = this.o.clock.now().getTime();
    const idleMs = this.o.idleMs();
    const idle: Array<{ account: string; epoch: number }> = [];
    for (const [account, h] of this.held) {
      if (now - h.lastUsed >= idleMs) idle.push({ account, epoch: h.epoch });
    }
    for (const i of idle) this.held.delete(i.account);
    if (idle.length > 0) {
      const released = await releaseAccountLeases(this.o.db, this.o.member, idle, new Date(now));
      this.o.logger.debug({ released }, "released idle accounts");
    }
    const leaseMs = this.o.leaseMs();
    for (const [account, h] of [...this.held]) {
      if (h.leaseUntil - now > leaseMs / 2) continue;
      try {
        const r = await acquireAccountLease(this.o.db, { account, member: this.o.member, now: new Date(now), leaseMs });
        if (r.kind === "held") this.held.set(account, { ...h, epoch: r.epoch, leaseUntil: r.leaseUntil.getTime() });
        else this.held.delete(account);
      } catch (err) {
        this.o.logger.warn({ account, err: coerceError(err).message }, "account lease renewal failed");
      }
    }
  }

  /** Open nothing more (shutting down); what is open stays open until releaseAll. */
  close(): void {
    this.closed = true;
  }

  async releaseAll(): Promise<void> {
    this.closed = true;
    const all = [...this.held].map(([account, h]) => ({ account, epoch: h.epoch }));
    this.held.clear();
    const released = await releaseAccountLeases(this.o.db, this.o.member, all, this.o.clock.now());
    if (released > 0) this.o.logger.info({ released }, "released accounts on shutdown");
  }

  /** Simulated crash (tests): forget everything without telling the database. */
  forget(): void {
    this.held.clear();
  }
}
