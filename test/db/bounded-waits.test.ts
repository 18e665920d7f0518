import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import pino from "pino";
import { Writable } from "node:stream";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { Membership } from "../../src/cluster/membership.ts";
import { queryRows } from "../../src/db/rows.ts";
import type { Storage } from "../../src/db/storage.ts";
import { systemClock } from "../../src/util/clock.ts";
import { freePort } from "../helpers/ports.ts";
import { until } from "../helpers/until.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

// Every wait on the database is bounded: statements, connects, and the heartbeat, which has a
// connection of its own so a saturated pool cannot delay it past the member timeout.
let tdb: TestDatabase;
const opened: Storage[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await tdb?.drop();
});

function open(o: Parameters<typeof openPostgresJs>[1], url = tdb.url): Storage {
  const s = openPostgresJs(url, o);
  opened.push(s);
  return s;
}

function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
  return { logger: pino({ level: "info" }, sink), lines };
}

/** Runs a sleep on the pool now (drizzle queries start only when awaited). */
function occupy(s: Storage, seconds: number): Promise<unknown> {
  return Promise.resolve(s.db.execute(sql.raw(`SELECT pg_sleep(${seconds})`)));
}

/** Until the server shows the sleep running, so the pool's only connection is surely taken. */
async function sleeping(seconds: string): Promise<void> {
  await until(async () => {
    const rows = await queryRows(tdb.storage.db, sql`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = ${`SELECT pg_sleep(${seconds})`}`);
    return rows.length > 0;
  }, "the pool's connection busy");
}

const info = (name: string) => ({ name, roles: ["backend" as const], smtpEndpoint: null, httpUrl: null, submitMode: "locally" as const, hostname: null, pid: null, version: null });

describe("bounded waits", () => {
  it("a statement longer than the statement timeout is cancelled by the server", async () => {
    const s = open({ max: 1, statementTimeoutMs: 200 });
    const t0 = Date.now();
    await expect(Promise.resolve(s.db.execute(sql`SELECT pg_sleep(5)`))).rejects.toMatchObject({ cause: { code: "57014" } });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it("a database that does not answer the connection fails the query after the connect timeout, not 30 s", async () => {
    // A listener that accepts TCP and never speaks: what a server stuck in shutdown looks like.
    const { createServer } = await import("node:net");
    const silent = createServer(() => {});
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", () => resolve()));
    try {
      const s = open({ max: 1, connectTimeoutSeconds: 1 }, `postgres://postgres@127.0.0.1:${port}/postgres`);
      const t0 = Date.now();
      await expect(Promise.resolve(s.db.execute(sql`SELECT 1`))).rejects.toMatchObject({ cause: { code: "CONNECT_TIMEOUT" } });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      silent.close();
    }
  });

  it("the heartbeat has its own connection: it beats while every pooled connection is busy", async () => {
    const s = open({ max: 1 });
    await s.db.execute(sql`SELECT 1`);
    const busy = occupy(s, 3);
    await sleeping("3");
    const m = new Membership({ db: s.db, heartbeatDb: s.heartbeatDb, info: info("beat-own"), clock: systemClock, logger: pino({ level: "silent" }), intervalMs: 60_000 });
    await m.start();
    const t0 = Date.now();
    await m.beat();
    expect(Date.now() - t0).toBeLessThan(1_500);
    const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'mailcluster heartbeat'`);
    expect(Number(row.n)).toBe(1);
    await busy;
    await m.stop();
  });

  it("a beat stuck behind a saturated pool is given up after its timeout and logged, so the next one can start", async () => {
    const s = open({ max: 1 });
    const { logger, lines } = capturingLogger();
    const m = new Membership({ db: s.db, info: info("beat-stuck"), clock: systemClock, logger, intervalMs: 60_000, beatTimeoutMs: 300 });
    await m.start();
    const busy = occupy(s, 2);
    await sleeping("2");
    const t0 = Date.now();
    await m.beat();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(lines.some((l) => l.includes("heartbeat failed") && l.includes("longer than 300 ms"))).toBe(true);
    await busy;
    await m.stop();
  });
});
