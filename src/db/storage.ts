import type { Db } from "./db.ts";

/** What a storage adapter can do, as flags rather than type checks. */
export interface StorageCapabilities {
  /** LISTEN/NOTIFY wake-ups work (else workers rely on polling). */
  listenNotify: boolean;
  /** Several connections: queries from concurrent workers run in parallel. */
  multipleConnections: boolean;
}

/** A Postgres storage adapter: builds the drizzle database, listens, closes. */
export interface Storage {
  readonly name: string;
  readonly db: Db;
  /**
   * A connection of its own for the heartbeat, when the adapter has several: the beat must not
   * queue behind a saturated or reconnecting pool. Absent: the heartbeat uses `db`.
   */
  readonly heartbeatDb?: Db;
  readonly capabilities: StorageCapabilities;
  /** Subscribe to a NOTIFY channel; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
