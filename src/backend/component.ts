import type { AppContext } from "../app-context.ts";
import type { Component } from "../component.ts";
import { coerceError } from "../util/errors.ts";
import { AccountOwnership } from "./account-owner.ts";
import type { AccountRuleRunner } from "./account-rules.ts";
import { mountDeliveryChannel } from "./channel-server.ts";
import { BackendDelivery } from "./deliver.ts";
import { engineRuleRunner } from "../rules/backend-runner.ts";

export interface BackendComponentOptions {
  /** Default: the rules engine (src/rules) over the domain's and the account's stored rule sets. */
  rules?: AccountRuleRunner;
}

/** The backend role: serves the delivery channel and owns the accounts it opens. */
export class BackendComponent implements Component {
  readonly name = "backend";
  private ctx: AppContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private maintaining: Promise<void> | null = null;
  delivery: BackendDelivery | null = null;

  constructor(private readonly options: BackendComponentOptions = {}) {}

  prepare(ctx: AppContext): void {
    this.ctx = ctx;
    const ownership = new AccountOwnership({
      db: ctx.db,
      member: ctx.config.memberName,
      clock: ctx.clock,
      logger: ctx.logger,
      leaseMs: () => ctx.settings().account_lease_seconds * 1000,
      idleMs: () => ctx.settings().account_idle_seconds * 1000,
    });
    const rules =
      this.options.rules ??
      engineRuleRunner({ onInvalid: (where, err) => ctx.logger.warn({ where, err: err.message }, "stored rule set does not validate; skipped") });
    this.delivery = new BackendDelivery(ctx, ownership, rules);
    ctx.inProcessBackend.register(this.delivery);
    ctx.httpMounts.push(mountDeliveryChannel(ctx, () => ctx.clusterSecret.get(), this.delivery));
  }

  async start(ctx: AppContext): Promise<void> {
    // Fail at start, not at the first delivery, when the secret cannot be had.
    await ctx.clusterSecret.get();
    const every = Math.max(250, Math.floor((ctx.settings().account_lease_seconds * 1000) / 4));
    this.timer = setInterval(() => void this.maintain(), every);
    this.timer.unref?.();
  }

  /** Renew busy account leases, release idle ones (also called by tests on a manual clock). */
  maintain(): Promise<void> {
    const delivery = this.delivery;
    const ctx = this.ctx;
    if (!delivery || !ctx) return Promise.resolve();
    this.maintaining ??= delivery.ownership
      .maintain()
      .then(() => ctx.metrics.set("mailcluster_accounts_open", "Accounts this backend holds open (dynamic leases)", {}, delivery.ownership.heldCount))
      .catch((err: unknown) => ctx.logger.warn({ err: coerceError(err).message }, "account lease maintenance failed"))
      .finally(() => (this.maintaining = null));
    return this.maintaining;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.maintaining;
    this.ctx?.inProcessBackend.unregister();
    await this.delivery?.drain(10_000);
    await this.delivery?.ownership.releaseAll();
  }

  /** Simulated crash (tests): stop without giving anything back to the database. */
  crash(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.ctx?.inProcessBackend.unregister();
    this.delivery?.ownership.forget();
  }
}

export function createBackendComponent(options: BackendComponentOptions = {}): BackendComponent {
  return new BackendComponent(options);
}
