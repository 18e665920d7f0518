import { Directory } from "../../src/accounts/directory.ts";
import type { AppContext } from "../../src/app-context.ts";
import { InProcessBackend } from "../../src/backend/registry.ts";
import { ClusterSecret } from "../../src/cluster/cluster-secret.ts";
import { DEFAULT_SETTINGS, type Settings } from "../../src/cluster/settings.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Storage } from "../../src/db/storage.ts";
import type { Clock, Random } from "../../src/domain/types.ts";
import { memberKeyring } from "../../src/dkim/keyring.ts";
import { Metrics } from "../../src/metrics/registry.ts";
import { WorkerWakeUp } from "../../src/queue/wake-up.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { type Logger, silentLogger } from "../../src/util/logger.ts";

export interface TestContextOptions {
  /** Default: loadConfig({}) (no environment), as a member started with no flags would have. */
  config?: Config;
  /** Default: a ManualClock at the current time. */
  clock?: Clock;
  /** Default: always 0.5 (no jitter surprises). */
  random?: Random;
  logger?: Logger;
  /** Fixed settings (DEFAULT_SETTINGS by default), or a function the test can make change. */
  settings?: Settings | (() => Settings);
  ping?: () => Promise<void>;
}

/**
 * The AppContext a member's composition root would build, on a test database: one builder for
 * every test and benchmark, so a field added to AppContext is added here once.
 */
export function testAppContext(storage: Storage, o: TestContextOptions = {}): AppContext {
  const settings = o.settings ?? DEFAULT_SETTINGS;
  const clock = o.clock ?? new ManualClock(new Date());
  const logger = o.logger ?? silentLogger;
  const config = o.config ?? loadConfig({});
  return {
    config,
    storage,
    db: storage.db,
    clock,
    random: o.random ?? { next: () => 0.5 },
    logger,
    metrics: new Metrics(),
    directory: new Directory(storage.db),
    settings: typeof settings === "function" ? settings : () => settings,
    ping: o.ping ?? (async () => {}),
    httpMounts: [],
    inProcessBackend: new InProcessBackend(),
    wakeUp: new WorkerWakeUp(storage.db),
    // Not started: it loads on first use and after refreshMs; a test that wants NOTIFY starts it.
    dkimKeys: memberKeyring({ db: storage.db, clock, logger }),
    clusterSecret: new ClusterSecret(storage.db, config.clusterSecret),
  };
}
