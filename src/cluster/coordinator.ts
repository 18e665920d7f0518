import type { AppContext } from "../app-context.ts";
import { coerceError } from "../util/errors.ts";
import { adoptOrphanedMessages, releaseDeadLeases, returnToPool } from "./adoption.ts";
import type { ClusterView } from "./cluster-view.ts";
import { listMembers } from "./members.ts";

/** Messages adopted per statement; a pass repeats until less than this is left. */
const ADOPTION_BATCH = 500;

/**
 * This member's part in the cluster's queue processing: keeps the ClusterView current after
 * every heartbeat, and on a jittered timer adopts the work of dead members (when it is an
 * adopter) or, in `remotely` mode with a pool server alive, hands its own messages back to
 * the pool. The jitter keeps members from running their passes in lockstep.
 */
export class ClusterCoordinator {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private pass: Promise<void> | null = null;
  private poolServed: boolean | null = null;

  constructor(
    private readonly ctx: AppContext,
    readonly view: ClusterView,
    /** Told when work became claimable for us (adopted messages): wake the worker. */
    private readonly onWork: () => void = () => {},
  ) {}

  /** Re-read the members table (own submit mode included). Called with each heartbeat. */
  async refresh(): Promise<void> {
    const { ctx, view } = this;
    const rows = await listMembers(ctx.db, ctx.clock.now(), ctx.settings().member_timeout_seconds);
    const previous = view.update(rows);
    if (previous) ctx.logger.info({ member: view.self, from: previous, to: view.submitMode }, "submit mode changed");
    const servers = view.poolServers();
    ctx.metrics.set("mailcluster_pool_servers", "Live locally-for-others members, as this member last saw them", {}, servers.length);
    const served = servers.length > 0;
    if (this.poolServed !== null && served !== this.poolServed) {
      ctx.logger.info({ poolServers: servers }, served ? "a locally-for-others member is alive again" : "no live locally-for-others member");
    }
    this.poolServed = served;
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private schedule(): void {
    if (!this.running) return;
    const base = this.ctx.settings().heartbeat_interval_seconds * 1000;
    const delay = Math.max(50, Math.round(base * (0.5 + this.ctx.random.next())));
    this.timer = setTimeout(() => {
      this.pass = this.runPass()
        .catch((err: unknown) => this.ctx.logger.warn({ err: coerceError(err).message }, "cluster pass failed; will retry"))
        .finally(() => {
          this.pass = null;
          this.schedule();
        });
    }, delay);
    this.timer.unref?.();
  }

  /** One round of adoption / hand-back, as the current view says. Public for tests. */
  async runPass(): Promise<void> {
    const { ctx, view } = this;
    if (view.isAdopter()) {
      await this.adopt();
    } else if (view.submitMode === "remotely" && view.poolServers().length > 0) {
      const returned = await returnToPool(ctx.db, { member: view.self, now: ctx.clock.now() });
      if (returned > 0) {
        ctx.metrics.inc("mailcluster_returned_to_pool_total", "Messages a remotely member handed back to the shared pool", {}, returned);
        ctx.logger.info({ member: view.self, returned }, "handed own messages back to the pool");
      }
    }
  }

  private async adopt(): Promise<void> {
    const { ctx, view } = this;
    const timeoutSeconds = ctx.settings().member_timeout_seconds;
    const leaseSeconds = ctx.settings().queue_lease_seconds;
    const from: Record<string, number> = {};
    let total = 0;
    for (;;) {
      const r = await adoptOrphanedMessages(ctx.db, { member: view.self, now: ctx.clock.now(), timeoutSeconds, leaseSeconds, limit: ADOPTION_BATCH });
      total += r.adopted;
      for (const [name, n] of Object.entries(r.from)) from[name] = (from[name] ?? 0) + n;
      if (r.adopted < ADOPTION_BATCH) break;
    }
    const released = await releaseDeadLeases(ctx.db, { now: ctx.clock.now(), timeoutSeconds, leaseSeconds });
    if (total > 0) {
      ctx.metrics.inc("mailcluster_adopted_messages_total", "Unfinished messages of dead members this member adopted", {}, total);
      ctx.logger.info({ member: view.self, adopted: total, from }, "adopted the work of dead members");
    }
    if (total + released > 0) this.onWork();
    if (released > 0) {
      ctx.metrics.inc("mailcluster_released_dead_leases_total", "Recipient leases of dead members cleared", {}, released);
      ctx.logger.info({ member: view.self, released }, "released leases held by dead members");
    }
  }
}
