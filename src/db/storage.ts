import type { Db } from "./db.ts";

/**
 * The database when DATABASE_URL is unset (MAILCLUSTER_EMBEDDED): a private PostgreSQL server
 * under the data dir, or PGlite in the process.
 */
export type EmbeddedKind = "postgres" | "pglite";

/** The settings that choose a storage adapter and open it (the part of Config they read). */
export interface StorageChoice {
  databaseUrl: string | null;
  dataDir: string;
  memberName: string;
  embedded?: EmbeddedKind | null;
}

/**
 * The embedded database is held by another process (PGlite serves the one that opened it):
 * a command may then go through that member instead.
 */
export class EmbeddedDatabaseBusy extends Error {
  override name = "EmbeddedDatabaseBusy";
}

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
