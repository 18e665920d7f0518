import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "../../src/db/schema/index.ts";
import type { Db } from "../../src/db/db.ts";
import type { Storage } from "../../src/db/storage.ts";

/** A postgres.js storage that records every statement it sends (LISTEN bookkeeping left out). */
export interface CountingStorage extends Storage {
  readonly statements: string[];
}

export function openCountingStorage(url: string, max = 4): CountingStorage {
  const statements: string[] = [];
  const client = postgres(url, {
    max,
    onnotice: () => {},
    debug: (_connection, query) => {
      if (!/^\s*(UN)?LISTEN\b/i.test(query)) statements.push(query);
    },
  });
  const db: Db = drizzle(client, { schema });
  return {
    name: "postgres-js (counting)",
    db,
    statements,
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
