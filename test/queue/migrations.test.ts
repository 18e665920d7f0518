import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { MIGRATIONS_FOLDER } from "../../src/db/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

describe("migrations", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("apply on an empty database, from several members at once, without racing", async () => {
    const total = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length;
    const pools = [tdb.open(1), tdb.open(1), tdb.open(1)];
    const results = await Promise.all([tdb.storage, ...pools].map((s) => migrate(s.db)));
    // Exactly one of them did the work; the others waited on the advisory lock and found nothing to do.
    expect(results.map((r) => r.applied.length).sort((a, b) => a - b)).toEqual([0, 0, 0, total]);
    const tables = await queryRows(tdb.storage.db, sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    const names = tables.map((t) => str(t.table_name));
    for (const t of ["members", "messages", "message_bodies", "recipients", "attempts", "domains", "accounts", "account_leases", "routes", "settings", "queue_by_domain", "live_members", "queue_depth_samples", "mta_sts_policies", "tls_rpt_results", "tls_rpt_reports"]) {
      expect(names).toContain(t);
    }
  });

  it("re-run on a migrated database is a no-op", async () => {
    const again = await migrate(tdb.storage.db);
    expect(again.applied).toEqual([]);
    const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
    expect(num(row.n)).toBe(again.total);
  });

  it("the ops views answer", async () => {
    await tdb.storage.db.execute(sql`INSERT INTO messages (sender, size_bytes, submitted_by, pending_recipients, created_at) VALUES ('a@b.c', 10, 'x', 1, now() - interval '1 hour')`);
    await tdb.storage.db.execute(sql`INSERT INTO recipients (message_id, address, domain, next_attempt_at, queued_at) SELECT id, 'r@example.net', 'example.net', now(), now() - interval '1 hour' FROM messages`);
    const rows = await queryRows(tdb.storage.db, sql`SELECT state, domain, recipients, extract(epoch FROM oldest_age)::int AS age FROM queue_by_domain`);
    expect(rows).toHaveLength(1);
    expect(str(rows[0].domain)).toBe("example.net");
    expect(num(rows[0].recipients)).toBe(1);
    expect(num(rows[0].age)).toBeGreaterThanOrEqual(3600);
    await tdb.storage.db.execute(sql`INSERT INTO members (name, roles, started_at, heartbeat_at) VALUES ('alive', '{frontend}', now(), now()), ('dead', '{backend}', now(), now() - interval '5 minutes')`);
    const live = await queryRows(tdb.storage.db, sql`SELECT name FROM live_members`);
    expect(live.map((r) => str(r.name))).toEqual(["alive"]);
  });
});
