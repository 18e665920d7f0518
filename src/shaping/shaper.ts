import type { Settings } from "../cluster/settings.ts";
import type { Executor } from "../db/db.ts";
import type { Clock, SmtpReply } from "../domain/types.ts";
import { localReply } from "../domain/smtp-reply.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { defaultLimits, effectiveLimits, listLimits, type LimitOverride } from "./limits.ts";
import { classifyReply } from "../domain/bounce-class.ts";
import { compileRules, type CompiledRule, listRules, matchRule, replyLine } from "./rules.ts";
import { type ShapedHop, type ShapedTarget, siteKey } from "./site.ts";
import { acquireSlot, activeSuspensions, deferDomains, releaseSlots, renewSlots, type SiteLimits, suspendSite, takeMessageTokens } from "./store.ts";

/** Recipients of a hop cannot go now: defer them to `retryAt` without trying (another) host. */
export class ShapingDenied extends Error {
  override name = "ShapingDenied";
  constructor(
    readonly reply: SmtpReply,
    readonly retryAt: Date,
    /** suspended: a reply rule or an operator; rate: a per-minute bucket is empty; busy: no slot within relay_shaping_wait_ms. */
    readonly reason: "suspended" | "rate" | "busy",
  ) {
    super(reply.text);
  }
}

/** A cluster connection slot, held while its SMTP connection is open (idle in the pool too). */
export interface ConnectionPermit {
  readonly site: string;
  /** Message tokens reserved for this connection (Infinity without a messages-per-minute limit). */
  credit: number;
  release(): void;
}

export interface ShaperOptions {
  db: Executor;
  clock: Clock;
  member: string;
  settings: () => Settings;
  logger: Logger;
  /** Waiting for a busy site's slot (tests inject a fast one). */
  sleep?: (ms: number) => Promise<void>;
  /** How long overrides, rules and suspensions are reused before re-reading (clock ms). */
  refreshMs?: number;
}

interface Held {
  site: string;
  slot: number;
  credit: number;
  perMinute: number | null;
}

/** Message tokens reserved per statement: enough for a connection's run, few enough to share. */
const MESSAGE_RESERVATION = 10;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Cluster-wide traffic shaping for one member's relay: per destination site a connection
 * semaphore, connections- and messages-per-minute buckets and response-driven suspensions,
 * all in PostgreSQL so every member honours them. The database is asked once per new
 * connection (and once per MESSAGE_RESERVATION messages under a messages-per-minute limit),
 * never per message otherwise; overrides, rules and suspensions are read at most once per
 * refreshMs and shared by every hop.
 */
export class Shaper {
  private overrides = new Map<string, LimitOverride>();
  private rules: CompiledRule[] = [];
  private readonly suspended = new Map<string, { until: Date; maxConnections: number | null; reason: string }>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;
  private readonly held = new Set<Held>();
  private renewTimer: ReturnType<typeof setInterval> | null = null;
  private readonly releasing = new Set<Promise<void>>();

  constructor(private readonly o: ShaperOptions) {}

  get enabled(): boolean {
    return this.o.settings().relay_shaping;
  }

  /** Forget cached overrides, rules and suspensions (after an operator change on this member). */
  invalidate(): void {
    this.loadedAt = Number.NEGATIVE_INFINITY;
  }

  /** Slots this member holds now. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * The shaping of one hop to its resolved targets. Throws ShapingDenied when the site is
   * suspended (and pushes the queued recipients of the hop's domains past the suspension).
   */
  async forHop(hop: ShapedHop, targets: readonly ShapedTarget[], domains: readonly string[]): Promise<HopShaping> {
    await this.refresh();
    const site = siteKey(hop, targets);
    const uniqueDomains = [...new Set(domains.map((d) => d.toLowerCase()))];
    const limits = effectiveLimits(defaultLimits(this.o.settings()), this.overrides, [site, ...uniqueDomains, hop.destination]);
    const now = this.o.clock.now();
    // An operator may suspend a domain by name ("mx:<domain>", the hop's own key) as well as its site.
    const keys = [...new Set([site, hop.destination])];
    for (const key of keys) {
      const s = this.suspended.get(key);
      if (s && s.until > now && s.maxConnections === null) await this.deny(key, uniqueDomains, s.until, s.reason);
    }
    const slow = keys.map((k) => this.suspended.get(k)).find((s) => s && s.until > now && s.maxConnections !== null);
    const slowed = slow && slow.maxConnections !== null ? { ...limits, maxConnections: Math.min(limits.maxConnections, slow.maxConnections) } : limits;
    return new HopShaping(this, site, uniqueDomains, slowed, keys.slice(1));
  }

  /** Wait for the slot releases under way (tests; close). */
  async flush(): Promise<void> {
    while (this.releasing.size > 0) await Promise.all([...this.releasing]);
  }

  /** Release every slot this member holds (on stop). */
  async close(): Promise<void> {
    await this.flush();
    this.stopRenewing();
    const slots = [...this.held];
    this.held.clear();
    await releaseSlots(this.o.db, { member: this.o.member, slots: slots.map((h) => ({ site: h.site, slot: h.slot, unused: h.credit, perMinute: h.perMinute })) }).catch((err: unknown) =>
      this.o.logger.warn({ err: coerceError(err).message }, "shaping: releasing slots on close failed; their leases expire"),
    );
  }

  /** @internal Take a slot for a new connection, waiting while the site is at its limit. */
  async open(site: string, domains: string[], limits: SiteLimits, freeIdle: () => boolean, alsoSuspendedAs: string[] = []): Promise<ConnectionPermit> {
    const s = this.o.settings();
    const sleep = this.o.sleep ?? realSleep;
    const leaseMs = s.relay_shaping_lease_seconds * 1000;
    let waited = 0;
    let delay = 10;
    for (;;) {
      const now = this.o.clock.now();
      const r = await acquireSlot(this.o.db, { site, member: this.o.member, now, leaseUntil: new Date(now.getTime() + leaseMs), limits, messageWant: MESSAGE_RESERVATION, alsoSuspendedAs });
      if (r.ok) return this.permit({ site, slot: r.slot, credit: r.messageCredit, perMinute: limits.messagesPerMinute });
      if (r.reason === "suspended") {
        this.suspended.set(site, { until: r.until, maxConnections: null, reason: "suspended by another member" });
        return this.deny(site, domains, r.until, "suspended by another member");
      }
      if (r.reason === "rate") {
        throw new ShapingDenied(localReply(451, "4.4.5", `destination ${site} is over its connections- or messages-per-minute limit; next try after ${r.retryAt.toISOString()}`), r.retryAt, "rate");
      }
      // Busy: an idle connection of ours to another host of the site frees a slot at once.
      if (freeIdle()) continue;
      if (waited >= s.relay_shaping_wait_ms) {
        throw new ShapingDenied(
          localReply(451, "4.4.5", `destination ${site}: all ${limits.maxConnections} connection slots of the cluster are busy`),
          new Date(now.getTime() + Math.max(1000, s.relay_shaping_wait_ms)),
          "busy",
        );
      }
      await sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, 250);
    }
  }

  /** @internal Message tokens for one more transaction on a permit's connection; a ShapingDenied when the bucket is empty. */
  async beforeMessage(permit: ConnectionPermit, perMinute: number | null): Promise<ShapingDenied | null> {
    if (perMinute === null || permit.credit >= 1) {
      permit.credit -= 1;
      return null;
    }
    const now = this.o.clock.now();
    const r = await takeMessageTokens(this.o.db, { site: permit.site, now, perMinute, want: MESSAGE_RESERVATION });
    if (r.granted > 0) {
      permit.credit += r.granted - 1;
      return null;
    }
    const at = r.retryAt ?? new Date(now.getTime() + 60_000);
    return new ShapingDenied(localReply(451, "4.4.5", `destination ${permit.site} is over its limit of ${perMinute} messages per minute; next try after ${at.toISOString()}`), at, "rate");
  }

  /**
   * Replies from the site: the first that matches a rule suspends or slows it for every member.
   * Returns the end of a suspension (recipients wait until then), null otherwise.
   */
  async observe(site: string, domains: string[], replies: readonly SmtpReply[]): Promise<Date | null> {
    await this.refresh();
    for (const reply of replies) {
      const rule = matchRule(this.rules, reply) ?? this.classifiedRateLimit(reply);
      if (!rule) continue;
      const now = this.o.clock.now();
      const maxConnections = rule.action === "slow" ? rule.maxConnections : null;
      const reason = `${replyLine(reply).slice(0, 300)} (${rule.id > 0 ? `rule ${rule.id}` : "bounce class rate_limited"})`;
      const r = await suspendSite(this.o.db, { site, until: new Date(now.getTime() + rule.seconds * 1000), maxConnections, reason, domains, now });
      this.suspended.set(site, { until: r.until, maxConnections, reason });
      this.o.logger.warn({ site, until: r.until.toISOString(), action: rule.action, pushed: r.pushed, reply: replyLine(reply) }, "shaping: destination suspended by a reply rule");
      return maxConnections === null ? r.until : null;
    }
    return null;
  }

  /**
   * The bounce classifier's rate_limited, for replies no rule knows: only session-level (421)
   * or x.7.x ones, never greylisting, since a per-recipient "try later" says nothing of the site.
   */
  private classifiedRateLimit(reply: SmtpReply): CompiledRule | null {
    const seconds = this.o.settings().relay_shaping_rate_limited_seconds;
    if (seconds <= 0 || reply.code < 400 || reply.code >= 500) return null;
    if (!(reply.code === 421 || reply.enhanced?.startsWith("4.7.")) || /greylist/i.test(reply.text)) return null;
    if (classifyReply(reply) !== "rate_limited") return null;
    return { id: 0, pattern: "(bounce class rate_limited)", action: "suspend", seconds, maxConnections: null, regex: /$^/ };
  }

  private async deny(site: string, domains: string[], until: Date, reason: string): Promise<never> {
    // The claim meets these domains' other recipients only after the suspension.
    await deferDomains(this.o.db, { domains, until, now: this.o.clock.now() });
    throw new ShapingDenied(localReply(451, "4.7.0", `destination ${site} suspended until ${until.toISOString()}: ${reason}`), until, "suspended");
  }

  private permit(h: Held): ConnectionPermit {
    this.held.add(h);
    this.startRenewing();
    let released = false;
    return {
      site: h.site,
      get credit() {
        return h.credit;
      },
      set credit(v: number) {
        h.credit = v;
      },
      release: () => {
        if (released) return;
        released = true;
        // Gone already: close() released every slot at once (the sockets end after it).
        if (!this.held.delete(h)) return;
        if (this.held.size === 0) this.stopRenewing();
        // Not awaited: a closing connection never waits on the database.
        const p = releaseSlots(this.o.db, { member: this.o.member, slots: [{ site: h.site, slot: h.slot, unused: h.credit, perMinute: h.perMinute }] })
          .catch((err: unknown) => this.o.logger.warn({ err: coerceError(err).message, site: h.site }, "shaping: releasing a slot failed; its lease expires"))
          .finally(() => this.releasing.delete(p));
        this.releasing.add(p);
      },
    };
  }

  /** Leases outlive a connection's slow transactions: renewed in one statement every third of a lease. */
  private startRenewing(): void {
    if (this.renewTimer) return;
    const every = Math.max(1000, (this.o.settings().relay_shaping_lease_seconds * 1000) / 3);
    this.renewTimer = setInterval(() => {
      const now = this.o.clock.now();
      const slots = [...this.held].map((h) => ({ site: h.site, slot: h.slot }));
      renewSlots(this.o.db, { member: this.o.member, slots, leaseUntil: new Date(now.getTime() + this.o.settings().relay_shaping_lease_seconds * 1000) }).catch((err: unknown) =>
        this.o.logger.warn({ err: coerceError(err).message }, "shaping: renewing slot leases failed"),
      );
    }, every);
    const t = this.renewTimer as { unref?: () => void };
    t.unref?.();
  }

  private stopRenewing(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  private async refresh(): Promise<void> {
    const now = this.o.clock.now().getTime();
    const every = this.o.refreshMs ?? 5000;
    if (now - this.loadedAt < every && now >= this.loadedAt) return;
    this.loading ??= this.load(now).finally(() => {
      this.loading = null;
    });
    await this.loading;
  }

  private async load(at: number): Promise<void> {
    const [limits, rules, suspensions] = await Promise.all([listLimits(this.o.db), listRules(this.o.db), activeSuspensions(this.o.db, new Date(at))]);
    this.overrides = new Map(limits.map((l) => [l.destination, l]));
    this.rules = compileRules(rules);
    this.suspended.clear();
    for (const s of suspensions) this.suspended.set(s.site, { until: s.until, maxConnections: s.maxConnections, reason: s.reason });
    this.loadedAt = at;
  }
}

/** One hop's site, domains and limits, for the relay's connection and transaction steps. */
export class HopShaping {
  constructor(
    private readonly shaper: Shaper,
    readonly site: string,
    readonly domains: string[],
    readonly limits: SiteLimits,
    private readonly alsoSuspendedAs: string[] = [],
  ) {}

  /** For the connection pool: a slot before a new connection is opened. */
  permit(freeIdle: () => boolean): Promise<ConnectionPermit> {
    return this.shaper.open(this.site, this.domains, this.limits, freeIdle, this.alsoSuspendedAs);
  }

  beforeMessage(permit: ConnectionPermit | null): Promise<ShapingDenied | null> {
    if (!permit) return Promise.resolve(null);
    return this.shaper.beforeMessage(permit, this.limits.messagesPerMinute);
  }

  observe(replies: readonly SmtpReply[]): Promise<Date | null> {
    return this.shaper.observe(this.site, this.domains, replies);
  }
}
