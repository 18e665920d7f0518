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
}

/** A real PostgreSQL server through postgres.js: several connections, LISTEN/NOTIFY. */
export function openPostgresJs(url: string, options: PostgresJsOptions = {}): Storage {
  const client = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "mailcluster" },
  });
  // drizzle runs raw sql`` with prepare: false, so postgres.js describes every statement before
  // binding it: two round trips per query, and a fresh plan each time. Our hot statements
  // (submit, claim, record outcomes) are single statements with a fixed text: let postgres.js
  // prepare and cache them per connection.
  const unsafe = client.unsafe.bind(client);
  client.unsafe = ((query: string, params?: unknown[], opts?: { prepare?: boolean }) =>
    unsafe(query, params as never, { ...opts, prepare: true })) as typeof client.unsafe;
  const db: Db = drizzle(client, { schema });
  return {
    name: "postgres-js",
    db,
    capabilities: { listenNotify: true, multipleConnections: true },
    async listen(channel, onNotify) {
      const sub = await client.listen(channel, (payload) => onNotify(payload));
      return () => sub.unlisten();
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}
