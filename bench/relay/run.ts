/**
 * Relay benchmark: messages per second taken from the queue and relayed over SMTP to a local
 * sink (smtp-server), with 1 and 20 concurrent connections, 2 KiB messages, 1 and 10
 * recipients per message. The real path: QueueWorker claim → relay transport (route to the
 * sink, connection reuse, per-destination limit) → recordOutcomes.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:relay
 *
 * BENCH_MESSAGES (default 2000) per run. BENCH_SHAPING=off,on (default both): cluster-wide
 * traffic shaping (src/shaping/, a slot per new connection in PostgreSQL) off or on. Creates and
 * drops its own database. Prints a table.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { migrate } from "../../src/db/migrate.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { QueueWorker } from "../../src/queue/worker.ts";
import { policyFromSettings } from "../../src/queue/retry-schedule.ts";
import { Relay } from "../../src/relay/relay.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import { Shaper } from "../../src/shaping/shaper.ts";
import { systemClock } from "../../src/util/clock.ts";
import { startSmtpSink } from "../../test/helpers/smtp-sink.ts";
import { testContext } from "../../test/relay/context.ts";

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const connectionsList = (process.env.BENCH_CONNECTIONS ?? "1,20").split(",").map(Number);
const recipientsList = (process.env.BENCH_RECIPIENTS ?? "1,10").split(",").map(Number);
const shapingList = (process.env.BENCH_SHAPING ?? "off,on").split(",").map((s) => s.trim() === "on");

const name = `mc_bench_relay_${randomBytes(4).toString("hex")}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${name}`);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const storage = openPostgresJs(u.toString(), { max: 24 });
await migrate(storage.db);

// The sink counts but keeps nothing, so memory stays flat.
const sink = await startSmtpSink({ data: () => "accept" });
const body = Buffer.alloc(2048, 0x61);
Buffer.from("From: bench@origin.test\r\nTo: r@bench.test\r\nSubject: bench\r\n\r\n").copy(body);
body.write("\r\n", 2046);

async function fill(recipients: number): Promise<void> {
  await storage.db.execute(sql`TRUNCATE messages, recipients, attempts RESTART IDENTITY CASCADE`);
  // Bulk fill in SQL: relaying is what is measured, not submitting.
  await storage.db.execute(sql`
    INSERT INTO messages (sender, size_bytes, submitted_by, processor, pending_recipients, created_at)
    SELECT 'bench@origin.test', ${body.byteLength}, 'bench', 'bench', ${recipients}, now() FROM generate_series(1, ${MESSAGES})`);
  await storage.db.execute(sql`INSERT INTO message_bodies (message_id, content) SELECT id, decode(${body.toString("hex")}, 'hex') FROM messages`);
  await storage.db.execute(sql`
    INSERT INTO recipients (message_id, address, domain, next_attempt_at, queued_at)
    SELECT m.id, 'r' || g || '-' || m.id || '@bench.test', 'bench.test', now() - interval '1 second', now()
    FROM messages m, generate_series(1, ${recipients}) g`);
  await storage.db.execute(sql`VACUUM ANALYZE recipients`);
}

async function run(connections: number, recipients: number, shaping: boolean) {
  await fill(recipients);
  sink.messages.length = 0;
  const sessionsBefore = sink.sessions;
  const ctx = testContext(storage, systemClock, { settings: { relay_destination_concurrency: connections, relay_idle_ms: 5000, relay_shaping: shaping }, config: { memberName: "bench" } });
  const relay = new Relay({
    db: ctx.db,
    resolver: { resolveMx: async () => [], resolve4: async () => [], resolve6: async () => [], resolveTxt: async () => [] },
    random: ctx.random,
    clock: systemClock,
    logger: ctx.logger,
    settings: () => ctx.settings(),
    ehloName: "bench.local",
    memberName: "bench",
    isFrontend: true,
    shaper: shaping ? new Shaper({ db: ctx.db, clock: systemClock, member: "bench", settings: () => ctx.settings(), logger: ctx.logger }) : undefined,
  });
  const transport = createRelayTransport(relay);
  const worker = new QueueWorker({
    db: ctx.db,
    member: "bench",
    includePool: () => true,
    handler: (group) => transport(ctx, group),
    clock: systemClock,
    random: ctx.random,
    logger: ctx.logger,
    policy: () => policyFromSettings(ctx.settings()),
    leaseMs: 60_000,
    pollIntervalMs: 20,
    batchSize: Math.max(50, connections * recipients * 2),
    concurrency: connections,
  });
  const t0 = performance.now();
  worker.start();
  for (;;) {
    const [row] = await queryRows(storage.db, sql`SELECT count(*)::int AS n FROM messages WHERE done_at IS NULL`);
    if (num(row.n) === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const seconds = (performance.now() - t0) / 1000;
  await worker.stop();
  await relay.close();
  const [failed] = await queryRows(storage.db, sql`SELECT count(*)::int AS n FROM recipients WHERE state <> 'delivered'`);
  return {
    shaping: shaping ? "on" : "off",
    connections,
    recipients_per_message: recipients,
    messages: MESSAGES,
    seconds: Number(seconds.toFixed(2)),
    messages_per_s: Math.round(MESSAGES / seconds),
    recipients_per_s: Math.round((MESSAGES * recipients) / seconds),
    smtp_sessions: sink.sessions - sessionsBefore,
    not_delivered: num(failed.n),
  };
}

try {
  await setRoute(storage.db, { domain: "*", hosts: `127.0.0.1:${sink.port}` });
  const rows = [];
  for (const connections of connectionsList) {
    for (const recipients of recipientsList) {
      for (const shaping of shapingList) {
        const r = await run(connections, recipients, shaping);
        console.error(JSON.stringify(r));
        rows.push(r);
      }
    }
  }
  console.table(rows);
} finally {
  await sink.close();
  await storage.close();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
