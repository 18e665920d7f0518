import type { Hono } from "hono";
import type { Config } from "./config.ts";
import type { Directory } from "./accounts/directory.ts";
import type { InProcessBackend } from "./backend/registry.ts";
import type { Clock, Random } from "./domain/types.ts";
import type { Db } from "./db/db.ts";
import type { Storage } from "./db/storage.ts";
import type { Settings } from "./cluster/settings.ts";
import type { ClusterView } from "./cluster/cluster-view.ts";
import type { ClusterSecret } from "./cluster/cluster-secret.ts";
import type { DkimKeyring } from "./dkim/keyring.ts";
import type { Metrics } from "./metrics/registry.ts";
import type { IngestFirst } from "./queue/ingest-first.ts";
import type { WorkerWakeUp } from "./queue/wake-up.ts";
import type { Logger } from "./util/logger.ts";

/**
 * What every part of a running member shares: configuration, database, clock, randomness,
 * logger, metrics, and the live settings. Built once by the composition root.
 */
export interface AppContext {
  config: Config;
  storage: Storage;
  db: Db;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: Metrics;
  /** Domains, accounts and aliases in memory, kept fresh by NOTIFY and a version poll. */
  directory: Directory;
  /** Current cluster-wide settings (refreshed periodically). */
  settings(): Settings;
  /** Round trip to the database (health checks). */
  ping(): Promise<void>;
  /** Route groups to mount on the HTTP app (admin API, delivery channel, WebAdmin). */
  httpMounts: Array<(app: Hono) => void>;
  /** The backend component of this process, when it runs one: local delivery calls it directly. */
  inProcessBackend: InProcessBackend;
  /**
   * Wakes this member's queue worker in process; false when it runs none. Submitters use it
   * instead of a NOTIFY round trip for work only this member processes.
   */
  nudgeLocalWorker?: () => boolean;
  /** Accepting before delivering while SMTP sessions queue up (a member with a frontend and a worker). */
  ingestFirst?: IngestFirst;
  /** Coalesced NOTIFYs to the queue workers after commits on `db` (one in flight at a time). */
  wakeUp: WorkerWakeUp;
  /** The active DKIM signing keys in memory (signing costs no query); Member starts its NOTIFY listening and stops it. */
  dkimKeys: DkimKeyring;
  /** What the delivery channel and member AUTH are signed with (CLUSTER_SECRET or the stored one), looked up once. */
  clusterSecret: ClusterSecret;
  /** Own submit mode and who is alive, refreshed with every heartbeat (absent in bare test contexts). */
  cluster?: ClusterView;
}
