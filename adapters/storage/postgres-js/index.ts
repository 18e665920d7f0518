import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "../../../src/db/schema/index.ts";
import type { Db } from "../../../src/db/db.ts";
import type { Storage } from "../../../src/db/storage.ts";

export interface PostgresJsOptions {
  /** Pool size; workers, the SMTP frontend and HTTP share it. */
  max?: number;
  /** Application name shown in pg_stat_activity, so ops see which member a session is. */
  applicationName?: string;
  /** Seconds to wait for a connection (TCP, TLS, startup) before the query fails. */
  connectTimeoutSeconds?: number;
  /** Server-side limit on any one statement, in ms (0 = none). */
  statementTimeoutMs?: number;
}

/**
 * Every wait is bounded, so a database that restarts or disappears costs a member a quick,
 * visible failure (451 at SMTP, a logged retry in the worker) instead of a 30 s stall: the
 * driver's default connect timeout is 30 s and its reconnect backoff grows to 20 s.
 */
const DEFAULT_CONNECT_TIMEOUT_S = 3;
const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** A transaction left open by a crashed code path must not hold locks forever. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
/** Reconnect delay in seconds: 0.1, 0.2, 0.4 ... capped at 1 s, with jitter so a cluster does not reconnect in step. */
const backoff = (retries: number): number => Math.min(0.1 * 2 ** retries, 1) * (0.5 + Math.random() / 2);

/**
 * A real PostgreSQL server through postgres.js: several connections, LISTEN/NOTIFY, and a
 * connection of its own for the heartbeat.
 *
 * postgres.js 3.4.9 is patched at install (patches/postgres+3.4.9.patch, applied by
 * patch-package from `postinstall`): without it a database restart can crash the process
 * from a setImmediate, and BEGIN can go out on an unreserved, shared connection.
 */
export function openPostgresJs(url: string, options: PostgresJsOptions = {}): Storage {
  const common = {
    onnotice: () => {},
    connect_timeout: options.connectTimeoutSeconds ?? DEFAULT_CONNECT_TIMEOUT_S,
    backoff,
    // Dead peers (a host gone without a FIN) are noticed in ~10 s rather than the kernel's 2 h.
    keep_alive: 10,
    connection: {
      application_name: options.applicationName ?? "mailcluster",
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
  };
  const client = postgres(url, { ...common, max: options.max ?? 10 });
  // One connection only the heartbeat uses: a pool saturated by slow work (or stuck reconnecting)
  // must not delay the beat past the member timeout, or other members adopt live work.
  const beatClient = postgres(url, { ...common, max: 1, connection: { ...common.connection, application_name: `${common.connection.application_name} heartbeat`.slice(0, 63) } });
  const db: Db = drizzle(preparing(client), { schema });
  return {
    name: "postgres-js",
    db,
    heartbeatDb: drizzle(preparing(beatClient), { schema }),
    capabilities: { listenNotify: true, multipleConnections: true },
    async listen(channel, onNotify) {
      const sub = await client.listen(channel, (payload) => onNotify(payload));
      return () => sub.unlisten();
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), beatClient.end({ timeout: 5 })]);
    },
  };
}

/**
 * The client drizzle sees: the same pool, except that its queries are prepared. drizzle runs raw
 * sql`` with prepare: false, so postgres.js describes every statement before binding it (two
 * round trips and a fresh plan per query); our hot statements have a fixed text and are worth
 * caching per connection. Transactions and savepoints hand drizzle the same kind of view over
 * their own scope, so the statements of a transaction (the mailbox store, multi-part bodies) are
 * prepared too; before, each of them was parsed and described again.
 *
 * This is a view over the client, not a change to it: the driver's own internal queries (the
 * BEGIN of sql.begin, LISTEN, savepoints) go through the client's real `unsafe` and keep their
 * own options. An earlier version replaced `client.unsafe` itself, which sent the driver's
 * BEGIN through the prepared path too.
 */
function preparing(client: postgres.Sql): postgres.Sql {
  const view = preparingUnsafe(client);
  const begin = client.begin.bind(client) as (options: string, cb: TransactionBody) => Promise<unknown>;
  view.begin = ((options: string | TransactionBody, cb?: TransactionBody) =>
    typeof options === "function" ? begin("", inView(options)) : begin(options, inView(cb as TransactionBody))) as typeof client.begin;
  return view;
}

type TransactionBody = (sql: postgres.TransactionSql) => unknown;

function inView(cb: TransactionBody): TransactionBody {
  return (tx) => {
    const view = preparingUnsafe(tx);
    const savepoint = tx.savepoint.bind(tx) as (name: string | TransactionBody, cb?: TransactionBody) => Promise<unknown>;
    view.savepoint = ((name: string | TransactionBody, body?: TransactionBody) =>
      typeof name === "function" ? savepoint(inView(name)) : savepoint(name, inView(body as TransactionBody))) as typeof tx.savepoint;
    return cb(view);
  };
}

function preparingUnsafe<T extends postgres.Sql | postgres.TransactionSql>(client: T): T {
  const view = Object.create(client) as T;
  const unsafe = client.unsafe.bind(client);
  view.unsafe = ((query: string, params?: unknown[], opts?: { prepare?: boolean }) =>
    unsafe(query, params as never, { ...opts, prepare: true })) as typeof client.unsafe;
  return view;
}
