import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { num, queryRows } from "../../src/db/rows.ts";
import type { Executor } from "../../src/db/db.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb?.drop();
});

/** Runs a statement of its own text on the executor's connection, then counts that text among the connection's prepared statements. */
async function preparedOnConnection(db: Executor, marker: string): Promise<number> {
  await queryRows(db, sql`SELECT ${1}::int AS ${sql.raw(marker)}`);
  const [row] = await queryRows(db, sql`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE ${`%AS ${marker}%`}`);
  return num(row.n);
}

describe("postgres.js adapter: statements are prepared", () => {
  it("inside a transaction and a savepoint, as outside one; the transaction still commits and rolls back", async () => {
    const db = tdb.storage.db;
    const inTx = await db.transaction((tx) => preparedOnConnection(tx, "in_tx"));
    expect(inTx).toBe(1);
    const inSavepoint = await db.transaction((tx) => tx.transaction((sp) => preparedOnConnection(sp, "in_savepoint")));
    expect(inSavepoint).toBe(1);

    await db.execute(sql`CREATE TABLE prep_probe (v int)`);
    await db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO prep_probe VALUES (${1})`);
      await tx.transaction(async (sp) => {
        await sp.execute(sql`INSERT INTO prep_probe VALUES (${2})`);
        sp.rollback();
      }).catch(() => {});
    });
    await db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO prep_probe VALUES (${3})`);
      tx.rollback();
    }).catch(() => {});
    const rows = await queryRows(db, sql`SELECT v FROM prep_probe ORDER BY v`);
    expect(rows.map((r) => num(r.v))).toEqual([1]);
  });
});
