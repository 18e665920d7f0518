import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

// The behaviour of postgres.js as patched at install (patches/postgres+3.4.9.patch).
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await tdb?.drop();
});

describe("postgres.js as installed (patched)", () => {
  it("a write after the server closed a transaction's connection fails the query instead of crashing the process", () => {
    const fixture = fileURLToPath(new URL("./fixtures/write-after-close.mjs", import.meta.url));
    const run = spawnSync(process.execPath, [fixture, tdb.url], { encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).not.toContain("Cannot read properties of null");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}")).toEqual({ outcome: "CONNECTION_CLOSED", after: 1 });
  });

  it("BEGIN that fills a busy connection's pipeline still reserves it: no UNSAFE_TRANSACTION, nothing else runs inside", async () => {
    const options = { max: 2, max_pipeline: 1, onnotice: () => {} }; // max_pipeline is not in the driver's types
    const sql = postgres(tdb.url, options);
    try {
      await Promise.all([sql`select 1`, sql`select 1`]); // both connections open
      // Both connections busy, so the transaction's BEGIN is pipelined onto one of them.
      const busy = [sql`select pg_sleep(0.2)`.execute(), sql`select pg_sleep(0.2)`.execute()];
      const tx = sql.begin(async (t) => {
        const [{ id }] = await t<Array<{ id: string }>>`select txid_current()::text as id`;
        await t`select pg_sleep(0.1)`;
        return id;
      });
      // An unrelated query issued while the transaction is open must not run inside it.
      const outside = (async () => {
        await new Promise((r) => setTimeout(r, 250));
        return (await sql<Array<{ id: string }>>`select txid_current()::text as id`)[0].id;
      })();
      await Promise.all(busy);
      const [inside, other] = await Promise.all([tx, outside]);
      expect(inside).toMatch(/^\d+$/);
      expect(other).not.toBe(inside);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("transactions work with max_pipeline 0 (BEGIN reserves even when nothing may be pipelined)", async () => {
    const options = { max: 3, max_pipeline: 0, onnotice: () => {} };
    const sql = postgres(tdb.url, options);
    try {
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sql.begin(async (t) => (await t<Array<{ i: number }>>`select ${i}::int as i`)[0].i)));
      expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
