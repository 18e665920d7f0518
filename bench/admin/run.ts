/**
 * Admin operations benchmark against real PostgreSQL: domain-wide queue operations on a deep
 * queue, per-message operations one after another, and admin API listing requests.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/admin/run.ts
 *
 * BENCH_DEPTH (default 100000) recipients, 5 per message, spread over 10 domains.
 * Creates and drops its own database. Prints a table.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import postgres from "postgres";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { mountAdminApi } from "../../src/http/admin/api.ts";
import { LoginThrottle } from "../../src/http/shared/login-throttle.ts";
import { applyQueueAction, listQueue, queueSummaryByDomain, type QueueAction } from "../../src/queue/admin.ts";
import { systemClock } from "../../src/util/clock.ts";
import { silentLogger } from "../../src/util/logger.ts";

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DEPTH = Number(process.env.BENCH_DEPTH ?? 100_000);
const DOMAINS = 10;

const name = `mc_bench_${randomBytes(4).toString("hex")}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${name}`);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const storage = openPostgresJs(u.toString(), { max: 4 });
const db = storage.db;
const rows: Array<{ what: string; n: number; ms: number }> = [];

async function timed(what: string, n: number, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  rows.push({ what, n, ms: performance.now() - t0 });
}

try {
  await migrate(db);
  await db.execute(sql`
    INSERT INTO messages (sender, size_bytes, submitted_by, pending_recipients, created_at)
    SELECT 'bench@example.org', 2048, 'bench', 5, now() - make_interval(secs => g) FROM generate_series(1, ${DEPTH / 5}) g`);
  await db.execute(sql`
    INSERT INTO recipients (message_id, address, domain, next_attempt_at, queued_at)
    SELECT m.id, 'r' || g || '-' || m.id || '@d' || (m.id % ${DOMAINS}) || '.test', 'd' || (m.id % ${DOMAINS}) || '.test', now(), m.created_at
    FROM messages m, generate_series(1, 5) g`);
  await db.execute(sql`VACUUM ANALYZE recipients`);
  await db.execute(sql`VACUUM ANALYZE messages`);
  const perDomain = DEPTH / DOMAINS;

  await timed("summary by domain (all pending)", DEPTH, () => queueSummaryByDomain(db, new Date()));
  await timed("list 200 oldest pending", 200, () => listQueue(db, { limit: 200 }));
  await timed("list 200 of one domain", 200, () => listQueue(db, { domain: "d3.test", limit: 200 }));
  const domainOps: Array<[QueueAction, string]> = [["hold", "d1.test"], ["release", "d1.test"], ["retry", "d2.test"], ["bounce", "d3.test"]];
  for (const [action, domain] of domainOps) {
    await timed(`${action} one domain`, perDomain, () => applyQueueAction(db, action, { domain }, new Date()));
  }
  await timed("delete one domain", perDomain, () => applyQueueAction(db, "delete", { domain: "d9.test" }, new Date()));

  const ids = Array.from({ length: 500 }, (_, i) => 1 + i * 10); // domain d1 (id % 10 = 1)
  await timed("hold by id, one after another", ids.length, async () => {
    for (const id of ids) await applyQueueAction(db, "hold", { messageId: id }, new Date());
  });
  await timed("release by id, one after another", ids.length, async () => {
    for (const id of ids) await applyQueueAction(db, "release", { messageId: id }, new Date());
  });

  const app = new Hono();
  mountAdminApi(app, { db, clock: systemClock, logger: silentLogger, token: "bench-token", throttle: new LoginThrottle(systemClock) });
  const headers = { authorization: "Bearer bench-token" };
  await timed("GET /api/v1/queue?domain=…&limit=50 (app.request)", 200, async () => {
    for (let i = 0; i < 200; i++) {
      const res = await app.request(`/api/v1/queue?domain=d${i % DOMAINS}.test&limit=50`, { headers });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    }
  });

  console.log(`admin benchmark: ${DEPTH} recipients, ${DEPTH / 5} messages, ${DOMAINS} domains`);
  console.log("operation".padEnd(52), "items".padStart(8), "ms".padStart(10), "items/s".padStart(10));
  for (const r of rows) {
    console.log(r.what.padEnd(52), String(r.n).padStart(8), r.ms.toFixed(1).padStart(10), Math.round((r.n / r.ms) * 1000).toString().padStart(10));
  }
} finally {
  await storage.close();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
