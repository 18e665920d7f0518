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
