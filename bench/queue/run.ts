/**
 * Queue benchmark against real PostgreSQL: recipients claimed + completed per second with
 * 1/2/4/8 workers at queue depths 10,000 and 100,000, and messages submitted per second
 * (one transaction each) with 1 and 5 recipients from 20 concurrent submitters.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:queue
 *
 * Creates and drops its own database. Prints a table.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import type { Storage } from "../../src/db/storage.ts";
import { claimRecipients } from "../../src/queue/claim.ts";
import { recordOutcomes } from "../../src/queue/record-outcomes.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { WorkerWakeUp } from "../../src/queue/wake-up.ts";

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const depths = (process.env.BENCH_DEPTHS ?? "10000,100000").split(",").filter(Boolean).map(Number);
const workerCounts = (process.env.BENCH_WORKERS ?? "1,2,4,8").split(",").map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 50);
const policy = { initialSeconds: 300, maxSeconds: 4000, jitter: 0.1, lifetimeSeconds: 432000 };
const delivered = { kind: "delivered" as const, reply: { code: 250, enhanced: "2.0.0", text: "ok" } };

const name = `mc_bench_${randomBytes(4).toString("hex")}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${name}`);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const url = u.toString();
const main = openPostgresJs(url, { max: 4 });
await migrate(main.db);

async function fill(depth: number): Promise<void> {
  await main.db.execute(sql`TRUNCATE messages, recipients, attempts RESTART IDENTITY CASCADE`);
  // Bulk fill in SQL: the claim is what is measured, not the fill. 5 recipients per message.
  const messages = depth / 5;
  await main.db.execute(sql`
    INSERT INTO messages (sender, size_bytes, submitted_by, pending_recipients, created_at)
    SELECT 'bench@example.org', 2048, 'bench', 5, now() FROM generate_series(1, ${messages})`);
  await main.db.execute(sql`
    INSERT INTO recipients (message_id, address, domain, next_attempt_at, queued_at)
    SELECT m.id, 'r' || g || '-' || m.id || '@example.net', 'example.net', now(), now()
    FROM messages m, generate_series(1, 5) g`);
  await main.db.execute(sql`VACUUM ANALYZE recipients`);
  await main.db.execute(sql`VACUUM ANALYZE messages`);
}

async function drain(workers: number): Promise<{ total: number; seconds: number }> {
  const pools: Storage[] = Array.from({ length: workers }, () => openPostgresJs(url, { max: 1 }));
  const t0 = performance.now();
  const counts = await Promise.all(
    pools.map(async (pool, w) => {
      let n = 0;
      for (;;) {
        const now = new Date();
        const claimed = await claimRecipients(pool.db, { member: `w${w}`, includePool: true, limit: BATCH, leaseMs: 60_000, now });
        if (claimed.length === 0) return n;
        await recordOutcomes(pool.db, {
          member: `w${w}`,
          now: new Date(),
          policy,
          random: { next: Math.random },
          results: claimed.map((r) => ({ recipient: r, outcome: delivered, startedAt: now, durationMs: 0 })),
        });
        n += claimed.length;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  return { total: counts.reduce((a, b) => a + b, 0), seconds };
}

async function submitBench(recipients: number, submitters: number, perSubmitter: number): Promise<number> {
  await main.db.execute(sql`TRUNCATE messages, recipients, attempts RESTART IDENTITY CASCADE`);
  const pool = openPostgresJs(url, { max: submitters });
  const content = new Uint8Array(2048).fill(65);
  // One member's coalesced NOTIFYs, as Member gives every submitter.
  const wakeUp = new WorkerWakeUp(pool.db);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: submitters }, async (_, s) => {
      for (let i = 0; i < perSubmitter; i++) {
        await submitMessage(pool.db, {
          envelope: { sender: "bench@example.org", recipients: Array.from({ length: recipients }, (_, k) => ({ address: `r${s}-${i}-${k}@example.net` })) },
          content,
          submittedBy: "bench",
          processor: null,
          now: new Date(),
        }, { wakeUp });
      }
    }),
  );
  const rate = (submitters * perSubmitter) / ((performance.now() - t0) / 1000);
  await pool.close();
  return rate;
}

const rows: string[][] = [];
try {
  for (const depth of depths) {
    for (const workers of workerCounts) {
      await fill(depth);
      const { total, seconds } = await drain(workers);
      if (total !== depth) throw new Error(`processed ${total} of ${depth}`);
      rows.push([`claim+complete, depth ${depth}`, `${workers} workers`, `${Math.round(total / seconds)} recipients/s`]);
      console.error(rows.at(-1)?.join("  "));
    }
  }
  for (const r of [1, 5]) {
    const rate = await submitBench(r, 20, 200);
    rows.push([`submit, ${r} recipient(s), 2 KiB`, "20 submitters", `${Math.round(rate)} messages/s`]);
    console.error(rows.at(-1)?.join("  "));
  }
} finally {
  await main.close();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log("\nmailcluster queue benchmark (batch " + BATCH + ")");
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  |  "));
