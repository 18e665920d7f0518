import { sql } from "drizzle-orm";
import type { AppContext } from "./app-context.ts";
import type { Component } from "./component.ts";
import type { Config } from "./config.ts";
import type { Clock, Random } from "./domain/types.ts";
import type { Storage } from "./db/storage.ts";
import { migrate } from "./db/migrate.ts";
import { Directory } from "./accounts/directory.ts";
import { InProcessBackend } from "./backend/registry.ts";
import { loadSettings, type Settings } from "./cluster/settings.ts";
import { MEMBERS_CHANNEL } from "./cluster/members.ts";
import { Membership } from "./cluster/membership.ts";
import { ClusterView } from "./cluster/cluster-view.ts";
import { ClusterSecret } from "./cluster/cluster-secret.ts";
import { ClusterCoordinator } from "./cluster/coordinator.ts";
import { QueueWorker, type DeliveryHandler } from "./queue/worker.ts";
import { QUEUE_CHANNEL, wakeConcerns } from "./queue/channel.ts";
import { IngestFirst } from "./queue/ingest-first.ts";
import { WorkerWakeUp } from "./queue/wake-up.ts";
import { policyFromSettings } from "./queue/retry-schedule.ts";
import { purgeExpired } from "./queue/purge.ts";
import { QUEUE_DEPTH_TICK_MS, QueueDepthSampler } from "./queue/depth-history.ts";
import { exportsClusterFigures } from "./metrics/queue-gauges.ts";
import { createDeliveryHandler } from "./delivery/handler.ts";
import { deliverLocal } from "./delivery/local.ts";
import { MemberRelay, settingsResolver } from "./delivery/remote.ts";
import { runTlsReportPass } from "./tls-report/send.ts";
import { purgeMtaStsPolicies } from "./mta-sts/policy-cache.ts";
import { runDsnPasses } from "./dsn/generate.ts";
import { afterRecord } from "./after-record.ts";
import { memberKeyring } from "./dkim/keyring.ts";
import { createHttpApp } from "./http/app.ts";
import type { HttpServerHandle, Runtime } from "./domain/runtime.ts";
import { Metrics } from "./metrics/registry.ts";
import { systemClock, systemRandom } from "./util/clock.ts";
import { coerceError } from "./util/errors.ts";
import type { Logger } from "./util/logger.ts";

// The member's fixed rhythms. Each is a trade between how soon something happens and what it
// costs the shared database when every member of the cluster does it.

/** Settings changed on any member take effect everywhere within this long (one small read per member). */
export const SETTINGS_RELOAD_MS = 30_000;
/** Failure DSNs of messages finished elsewhere, and delay notices, go out within this long (done messages of this member's own batches bounce at once). */
export const DSN_PASS_INTERVAL_MS = 15_000;
/** Done messages and old attempts are deleted this often: retention is a week by default, so a minute late does not matter. */
export const PURGE_INTERVAL_MS = 60_000;
/** This member's TLS-RPT session counts reach the shared table this often: a report covers a whole day. */
export const TLS_REPORT_FLUSH_MS = 60_000;
/** Daily TLS reports and expired MTA-STS policies are looked at this often: both work in days. */
export const TLS_REPORT_PASS_MS = 15 * 60_000;
/** Claimed batches delivered in parallel (each up to queue_claim_batch recipients): enough to hide relay and channel round trips, fewer than the 10 connections of a member's database pool so ingest and the timers still get one. */
export const WORKER_CONCURRENCY = 8;
/** Messages arriving within this many ms share a batch (the same statements for 1 or 50). */
export const WORKER_GATHER_MS = 10;
/** …and, while work keeps arriving during the gather, up to this long: a steady stream is taken in full batches. */
export const WORKER_GATHER_MAX_MS = 150;

export interface MemberOptions {
  config: Config;
  storage: Storage;
  runtime: Runtime;
  logger: Logger;
  clock?: Clock;
  random?: Random;
  /** Replaces the default delivery handler (tests, benchmarks). */
  handler?: DeliveryHandler;
  /** Parts started with the member, in order (frontend, backend...). */
  components?: Component[];
  /** Run the queue worker (false for a `remotely` member with nobody to fall back on is decided later). */
  runWorker?: boolean;
  version?: string;
}

/**
 * One running mailcluster process: database, settings, membership, HTTP, queue worker and
 * whatever components its roles bring. This is the composition root.
 */
export class Member {
  readonly ctx: AppContext;
  private worker: QueueWorker | null = null;
  private membership: Membership | null = null;
  private coordinator: ClusterCoordinator | null = null;
  private readonly view: ClusterView;
  /** The SMTP relay's connection pool, made on first use; closed on stop. */
  private readonly relay: MemberRelay;
  private http: HttpServerHandle | null = null;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private unlisten: (() => Promise<void>) | null = null;
  private unlistenMembers: (() => Promise<void>) | null = null;
  private currentSettings: Settings;
  private stopping: Promise<void> | null = null;

  private constructor(private readonly o: MemberOptions, settings: Settings) {
    this.currentSettings = settings;
    this.view = new ClusterView(o.config.memberName, o.config.submitMode);
    const db = o.storage.db;
    const clock = o.clock ?? systemClock;
    this.ctx = {
      config: o.config,
      storage: o.storage,
      db,
      clock,
      random: o.random ?? systemRandom,
      logger: o.logger,
      metrics: new Metrics(),
      directory: new Directory(db, o.logger),
      settings: () => this.currentSettings,
      ping: async () => {
        await db.execute(sql`SELECT 1`);
      },
      httpMounts: [],
      inProcessBackend: new InProcessBackend(),
      cluster: this.view,
      nudgeLocalWorker: () => {
        this.worker?.nudge();
        return this.worker !== null;
      },
      wakeUp: new WorkerWakeUp(db),
      ingestFirst: new IngestFirst(() => performance.now(), () => this.currentSettings.queue_ingest_first_ms),
      dkimKeys: memberKeyring({ db, clock, logger: o.logger }),
      clusterSecret: new ClusterSecret(db, o.config.clusterSecret),
    };
    this.relay = new MemberRelay(this.ctx);
  }

  static async start(o: MemberOptions): Promise<Member> {
    const t0 = Date.now();
    const result = await migrate(o.storage.db);
    if (result.applied.length > 0) o.logger.info({ applied: result.applied.length }, "database migrated");
    const member = new Member(o, await loadSettings(o.storage.db));
    try {
      await member.boot();
    } catch (err) {
      await member.stop().catch(() => {});
      throw err;
    }
    o.logger.info(
      { member: o.config.memberName, roles: o.config.roles, storage: o.storage.name, httpPort: member.httpPort, ms: Date.now() - t0 },
      "member started",
    );
    return member;
  }

  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  get queueWorker(): QueueWorker | null {
    return this.worker;
  }

  private async boot(): Promise<void> {
    const { ctx } = this;
    const components = this.o.components ?? [];
    const listen = ctx.storage.capabilities.listenNotify ? (ch: string, fn: (payload: string) => void) => ctx.storage.listen(ch, fn) : undefined;
    await ctx.directory.start({ listen });
    await ctx.dkimKeys.start({ listen });
    for (const c of components) await c.prepare?.(ctx);

    const app = createHttpApp(ctx);
    this.http = await this.o.runtime.serveHttp(app.fetch, { port: this.o.config.httpPort, hostname: this.o.config.host });

    const s = this.currentSettings;
    const cluster = (this.coordinator = new ClusterCoordinator(ctx, this.view, () => this.worker?.nudge()));
    this.membership = new Membership({
      onBeat: () => cluster.refresh(),
      submitMode: () => this.view.submitMode,
      db: ctx.db,
      heartbeatDb: ctx.storage.heartbeatDb,
      clock: ctx.clock,
      logger: ctx.logger,
      intervalMs: s.heartbeat_interval_seconds * 1000,
      info: {
        name: this.o.config.memberName,
        roles: this.o.config.roles,
        smtpEndpoint: this.o.config.roles.includes("frontend") ? `${this.o.config.advertiseHost}:${this.o.config.smtpPort}` : null,
        httpUrl: `http://${this.o.config.advertiseHost}:${this.http.port}`,
        submitMode: this.o.config.submitMode,
        hostname: this.o.config.hostname,
        pid: typeof process !== "undefined" ? process.pid : null,
        version: this.o.version ?? null,
      },
    });
    if (listen) {
      this.unlistenMembers = await listen(MEMBERS_CHANNEL, () => {
        cluster.refresh().catch((err: unknown) => ctx.logger.warn({ err: coerceError(err).message }, "cluster refresh after a membership change failed"));
      });
    }
    await this.membership.start();
    await cluster.refresh();

    for (const c of components) await c.start?.(ctx);

    if (this.o.runWorker !== false) {
      this.worker = new QueueWorker({
        db: ctx.db,
        member: this.o.config.memberName,
        // Re-evaluated per claim: the mode and the live pool servers come with each heartbeat.
        includePool: () => cluster.view.includePool(),
        handler: this.o.handler ?? createDeliveryHandler(ctx, { local: deliverLocal, remote: this.relay.transport }),
        clock: ctx.clock,
        random: ctx.random,
        logger: ctx.logger,
        policy: () => policyFromSettings(this.currentSettings),
        leaseMs: s.queue_lease_seconds * 1000,
        pollIntervalMs: s.queue_poll_interval_ms,
        batchSize: s.queue_claim_batch,
        batchMaxBytes: s.queue_claim_max_bytes,
        concurrency: WORKER_CONCURRENCY,
        gatherMs: WORKER_GATHER_MS,
        gatherMaxMs: WORKER_GATHER_MAX_MS,
        // Only this member's own SMTP sessions tell it ingest is busy (in a backend it never is).
        holdOff: this.o.config.roles.includes("frontend") ? this.ctx.ingestFirst : undefined,
        onHeld: (ms) => ctx.metrics.inc("mailcluster_worker_ingest_first_hold_seconds_total", "Seconds the queue worker held off claiming while this member's SMTP sessions queued up (queue_ingest_first_ms)", {}, ms / 1000),
        // Metrics, done messages, and bounces right away for messages just finished (src/after-record.ts).
        onRecorded: (summary, results, claimed) => afterRecord(ctx, summary, results, claimed),
      });
      if (ctx.storage.capabilities.listenNotify) {
        // Pool work wakes only the workers that take it (a remotely frontend would find nothing).
        this.unlisten = await ctx.storage.listen(QUEUE_CHANNEL, (payload) => {
          if (wakeConcerns(payload, this.o.config.memberName, cluster.view.includePool())) this.worker?.nudge();
        });
      }
      this.worker.start();
    }
    cluster.start();

    this.every(SETTINGS_RELOAD_MS, async () => {
      this.currentSettings = await loadSettings(ctx.db);
    });
    // DSNs for messages finished elsewhere (admin bounces, a crash before onRecorded) and delay notices.
    this.every(DSN_PASS_INTERVAL_MS, () => runDsnPasses(ctx));
    this.every(PURGE_INTERVAL_MS, async () => {
      const purged = await purgeExpired(ctx.db, { now: ctx.clock.now(), retentionSeconds: this.currentSettings.retention_seconds });
      if (purged.messages + purged.attempts > 0) ctx.logger.info(purged, "purged done messages and old attempts");
    });
    // TLS-RPT: this member's session counts into the shared table; the daily reports, by whichever member gets a day's marker first.
    this.every(TLS_REPORT_FLUSH_MS, () => this.relay.flushTlsReports());
    const reportDns = settingsResolver(ctx);
    this.every(TLS_REPORT_PASS_MS, async () => {
      if (this.currentSettings.tls_rpt_enabled) await runTlsReportPass(ctx, reportDns);
      await purgeMtaStsPolicies(ctx.db, ctx.clock.now());
    });
    // The overview's queue depth history: one member (the exporter of the cluster gauges) samples.
    const sampler = new QueueDepthSampler({ db: ctx.db, clock: ctx.clock, member: this.o.config.memberName, isSampler: () => exportsClusterFigures(ctx) });
    const sample = async () => {
      await sampler.tick();
    };
    this.every(QUEUE_DEPTH_TICK_MS, sample);
    // A first point at start: after a restart the chart need not wait for the timer.
    sample().catch((err: unknown) => ctx.logger.warn({ err: coerceError(err).message }, "queue depth sample failed"));
  }

  private every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((err: unknown) => this.ctx.logger.warn({ err: coerceError(err).message }, "periodic task failed"));
    }, ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  /** Graceful: stop accepting and claiming, finish or release in-flight work, deregister. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const log = this.ctx.logger;
    for (const t of this.timers) clearInterval(t);
    const components = [...(this.o.components ?? [])].reverse();
    for (const c of components) await c.stop?.().catch((err: unknown) => log.warn({ err: coerceError(err).message, component: c.name }, "stop failed"));
    await this.unlisten?.().catch(() => {});
    await this.unlistenMembers?.().catch(() => {});
    await this.ctx.directory.stop();
    await this.ctx.dkimKeys.stop();
    await this.coordinator?.stop();
    await this.worker?.stop();
    await this.relay.close().catch(() => {});
    await this.membership?.stop();
    await this.http?.close();
    log.info({ member: this.o.config.memberName }, "member stopped");
  }
}
