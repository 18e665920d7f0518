import type { AppContext } from "../../src/app-context.ts";
import { ClusterCoordinator } from "../../src/cluster/coordinator.ts";
import { ClusterView } from "../../src/cluster/cluster-view.ts";
import { Membership } from "../../src/cluster/membership.ts";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import type { SubmitMode } from "../../src/domain/types.ts";
import type { Storage } from "../../src/db/storage.ts";
import { QueueWorker } from "../../src/queue/worker.ts";
import type { ManualClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { testAppContext } from "../helpers/app-context.ts";

/** A delivery a test member made: which member delivered which recipient. */
export interface Delivered {
  member: string;
  recipientId: number;
  messageId: number;
  address: string;
}

/**
 * One cluster member's queue-processing parts wired as src/member.ts wires them (membership
 * with the view refreshed on each beat, coordinator, worker whose pool filter is the view),
 * on a ManualClock and without HTTP or roles, so tests drive heartbeats and passes by hand.
 */
export class TestMember {
  readonly ctx: AppContext;
  readonly view: ClusterView;
  readonly coordinator: ClusterCoordinator;
  readonly membership: Membership;
  readonly worker: QueueWorker;

  constructor(
    readonly name: string,
    mode: SubmitMode,
    storage: Storage,
    clock: ManualClock,
    settings: Settings,
    delivered: Delivered[],
  ) {
    this.view = new ClusterView(name, mode);
    this.ctx = { ...testAppContext(storage, { config: loadConfig({}, { name, submit: mode }), clock, settings }), cluster: this.view };
    this.coordinator = new ClusterCoordinator(this.ctx, this.view, () => this.worker.nudge());
    this.membership = new Membership({
      db: storage.db,
      clock,
      logger: silentLogger,
      intervalMs: 3_600_000,
      onBeat: () => this.coordinator.refresh(),
      submitMode: () => this.view.submitMode,
      info: { name, roles: ["frontend", "backend"], smtpEndpoint: null, httpUrl: null, submitMode: mode, hostname: null, pid: null, version: null },
    });
    this.worker = new QueueWorker({
      db: storage.db,
      member: name,
      includePool: () => this.view.includePool(),
      clock,
      random: { next: () => 0.5 },
      logger: silentLogger,
      policy: () => ({ initialSeconds: 300, maxSeconds: 4000, jitter: 0, lifetimeSeconds: 86400 }),
      leaseMs: 60_000,
      pollIntervalMs: 20,
      batchSize: 50,
      concurrency: 4,
      handler: async (rcpts) => {
        for (const r of rcpts) delivered.push({ member: name, recipientId: r.id, messageId: r.messageId, address: r.address });
        return rcpts.map((r) => ({ recipientId: r.id, outcome: { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } } }));
      },
    });
  }

  /** Register and take the first look at the cluster, as Member.boot does. */
  async join(): Promise<void> {
    await this.membership.start();
    await this.coordinator.refresh();
  }

  async stop(): Promise<void> {
    await this.worker.stop(100);
    await this.membership.stop();
  }
}

export const testSettings: Settings = { ...DEFAULT_SETTINGS, member_timeout_seconds: 30, heartbeat_interval_seconds: 5 };
