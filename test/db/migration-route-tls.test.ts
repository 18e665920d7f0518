import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, MIGRATIONS_FOLDER } from "../../src/db/migrate.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

interface Journal {
  entries: Array<{ idx: number; tag: string }>;
}

describe("migration 0012: routes.require_tls becomes routes.tls", () => {
  let tdb: TestDatabase;
  let before: string;
  beforeAll(async () => {
    tdb = await createTestDatabase({ migrate: false });
    // The migrations up to 0011 alone, as a database made before 0012 has them.
    before = mkdtempSync(join(tmpdir(), "mc-migrations-"));
    mkdirSync(join(before, "meta"));
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as Journal;
    journal.entries = journal.entries.filter((e) => e.idx <= 11);
    writeFileSync(join(before, "meta", "_journal.json"), JSON.stringify(journal));
    for (const e of journal.entries) cpSync(join(MIGRATIONS_FOLDER, `${e.tag}.sql`), join(before, `${e.tag}.sql`));
  });
  afterAll(async () => {
    rmSync(before, { recursive: true, force: true });
    await tdb.drop();
  });

  it("a route that required TLS keeps requiring it (encrypt), the others get may; bad levels are refused", async () => {
    await migrate(tdb.storage.db, before);
    await tdb.storage.db.execute(sql`INSERT INTO routes (domain, hosts, require_tls) VALUES ('strict.test', 'a.lan:25', true), ('loose.test', 'b.lan:25', false)`);
    await migrate(tdb.storage.db);
    const rows = await queryRows(tdb.storage.db, sql`SELECT domain, tls FROM routes ORDER BY domain`);
    expect(rows.map((r) => [str(r.domain), str(r.tls)])).toEqual([
      ["loose.test", "may"],
      ["strict.test", "encrypt"],
    ]);
    // drizzle's query is a thenable (bun's expect wants a promise) and wraps the driver's error in cause.
    const err = await Promise.resolve(tdb.storage.db.execute(sql`UPDATE routes SET tls = 'sometimes'`)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err instanceof Error ? String(err.cause instanceof Error ? err.cause : err.message) : "no error").toMatch(/routes_tls_check/);
  });
});
