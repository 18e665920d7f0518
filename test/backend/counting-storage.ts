import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "../../src/db/schema/index.ts";
import type { Storage } from "../../src/db/storage.ts";

/** A storage that counts every statement sent to PostgreSQL (BEGIN and COMMIT included), at the driver. */
export interface CountingStorage extends Storage {
  readonly statements: string[];
  reset(): void;
}

export function openCountingStorage(url: string): CountingStorage {
  const statements: string[] = [];
  // postgres.js calls `debug` once for each statement it puts on the wire.
  const client = postgres(url, { max: 4, onnotice: () => {}, debug: (_connection, query) => statements.push(query.replace(/\s+/g, " ").trim()) });
  return {
    name: "postgres-js (counting)",
    db: drizzle(client, { schema }),
    capabilities: { listenNotify: false, multipleConnections: true },
    statements,
    reset: () => {
      statements.length = 0;
    },
    async listen() {
      return async () => {};
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}
