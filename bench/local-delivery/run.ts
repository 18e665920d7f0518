/**
 * Local delivery benchmark on real PostgreSQL: messages/s from queued to stored with 1 and 2
 * backends (full path: claim → route → delivery channel (HTTP to the other backend, direct
 * call to itself) → lease → rules → store → record), and the p50/p99 latency from submit to
 * stored at a steady submission rate (half the measured throughput).
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/local-delivery/run.ts
 *
 * BENCH_MESSAGES (default 2000) pre-queued for the throughput run, BENCH_LATENCY_MESSAGES
 * (default 500) for the latency run, BENCH_ACCOUNTS (default 50). Creates and drops its own
 * database per run. CPU per message of the drain: the bench process (the members run in it; nothing
 * else does then) plus the PostgreSQL backends of the bench database (Linux /proc). Prints a table, then the statements the backend member sent to PostgreSQL
 * per message (counted at the driver, on a separate run with 1 backend: pre-queued, and at a
 * steady 100 msg/s; heartbeat, polls and wake-ups included). BENCH_COUNT=0 skips that run.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "../../src/db/schema/index.ts";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { createBackendComponent } from "../../src/backend/component.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate } from "../../src/db/migrate.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import type { Storage } from "../../src/db/storage.ts";
import { Member } from "../../src/member.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { parentOf, PostgresCpu } from "../compare/proc-cpu.ts";

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const LATENCY_MESSAGES = Number(process.env.BENCH_LATENCY_MESSAGES ?? 500);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50);
const body = new TextEncoder().encode(
  ["From: Bench <bench@remote.test>", "To: someone@bench.test", "Subject: benchmark", "", "x".repeat(2000), ""].join("\r\n"),
);

const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
const postmaster = parentOf(Number((await admin`SELECT pg_backend_pid() AS pid`)[0].pid));
const runtime = await detectRuntime();

async function withDatabase<T>(task: (url: string, main: Storage, name: string) => Promise<T>): Promise<T> {
  const name = `mc_bench_local_${randomBytes(4).toString("hex")}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const main = openPostgresJs(u.toString(), { max: 10 });
  try {
    await migrate(main.db);
    return await task(u.toString(), main, name);
  } finally {
    await main.close();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

async function submitMany(main: Storage, accounts: string[], n: number, concurrency = 10): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await submitMessage(main.db, {
          envelope: { sender: "bench@remote.test", recipients: [{ address: accounts[i % accounts.length] }] },
          content: body,
          submittedBy: "bench",
          processor: null,
          now: new Date(),
        });
      }
    }),
  );
}

const stored = async (main: Storage) => num((await queryRows(main.db, sql`SELECT count(*)::int AS n FROM mailbox_messages`))[0].n);

async function waitStored(main: Storage, n: number, timeoutMs = 600_000, poll: () => Promise<number> = () => stored(main)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await poll()) < n) {
    if (Date.now() > deadline) throw new Error(`timed out: ${await stored(main)} of ${n} stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Result {
  backends: number;
  throughput: number;
  drainSeconds: number;
  rate: number;
  /** CPU ms per message while draining: members (this process) and PostgreSQL backends. */
  cpuMembers: number;
  cpuPg: number;
  p50: number;
  p99: number;
}

async function run(backends: number): Promise<Result> {
  return withDatabase(async (url, main, name) => {
    await addDomain(main.db, "bench.test");
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(await addAccount(main.db, { address: `user${i}@bench.test` }));
    await setSetting(main.db, "queue_poll_interval_ms", 200);
    await setSetting(main.db, "retry_initial_seconds", 1);
    // The drain is watched through a connection of its own, left out of the CPU figure.
    const poller = postgres(url, { max: 1, onnotice: () => {} });
    const [{ pid }] = await poller`SELECT pg_backend_pid() AS pid`;
    const pg = new PostgresCpu(name, postmaster, new Set([Number(pid)]));

    // Throughput: the queue is full before the backends start.
    await submitMany(main, accounts, MESSAGES);
    const members: Member[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    pg.start();
    for (let b = 0; b < backends; b++) {
      const config = loadConfig({}, { name: `bench-backend-${b}`, httpPort: 0, role: "backend", submit: "locally-for-others" });
      members.push(await Member.start({ config, storage: openPostgresJs(url, { max: 8 }), runtime, logger: silentLogger, components: [createBackendComponent()] }));
    }
    await waitStored(main, MESSAGES, 600_000, async () => Number((await poller`SELECT count(*)::int AS n FROM mailbox_messages`)[0].n));
    const drainSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMembers = (cpu.user + cpu.system) / 1000 / MESSAGES;
    const cpuPg = (1000 * pg.stop().backends) / MESSAGES;
    await poller.end();
    const throughput = MESSAGES / drainSeconds;

    // Latency: steady submissions at half that rate, submit → stored per message.
    const rate = Math.max(1, throughput / 2);
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < LATENCY_MESSAGES; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(submitMany(main, [accounts[i % accounts.length]], 1, 1));
    }
    await Promise.all(pending);
    await waitStored(main, MESSAGES + LATENCY_MESSAGES);
    const rows = await queryRows(
      main.db,
      sql`SELECT extract(epoch FROM (mm.internal_date - m.created_at)) * 1000 AS ms
          FROM mailbox_messages mm JOIN messages m ON m.id = mm.queue_message_id
          WHERE m.id > ${MESSAGES} ORDER BY ms`,
    );
    const ms = rows.map((r) => num(r.ms)).sort((a, b) => a - b);
    const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))];
    for (const m of members) await m.stop();
    return { backends, throughput, drainSeconds, rate, cpuMembers, cpuPg, p50: pct(50), p99: pct(99) };
  });
}

/** A storage whose driver counts every statement it sends (unprepared: for counting, not timing). */
function countingStorage(url: string): { storage: Storage; count: () => number } {
  let n = 0;
  const client = postgres(url, { max: 8, onnotice: () => {}, debug: () => void (n += 1) });
  const storage: Storage = {
    name: "postgres-js (counting)",
    db: drizzle(client, { schema }),
    capabilities: { listenNotify: true, multipleConnections: true },
    async listen(channel, onNotify) {
      const sub = await client.listen(channel, (payload) => onNotify(payload));
      return () => sub.unlisten();
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
  return { storage, count: () => n };
}

async function countStatements(): Promise<{ drained: number; steady: number }> {
  return withDatabase(async (url, main) => {
    await addDomain(main.db, "bench.test");
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(await addAccount(main.db, { address: `user${i}@bench.test` }));
    await setSetting(main.db, "queue_poll_interval_ms", 200);
    const n = Math.min(MESSAGES, 1000);
    await submitMany(main, accounts, n);
    const counting = countingStorage(url);
    const config = loadConfig({}, { name: "bench-count", httpPort: 0, role: "backend", submit: "locally-for-others" });
    const member = await Member.start({ config, storage: counting.storage, runtime, logger: silentLogger, components: [createBackendComponent()] });
    const c0 = counting.count();
    await waitStored(main, n);
    const drained = (counting.count() - c0) / n;
    const steadyN = 300;
    const c1 = counting.count();
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < steadyN; i++) {
      const wait = start + i * 10 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(submitMany(main, [accounts[i % accounts.length]], 1, 1));
    }
    await Promise.all(pending);
    await waitStored(main, n + steadyN);
    const steady = (counting.count() - c1) / steadyN;
    await member.stop();
    await counting.storage.close();
    return { drained, steady };
  });
}

const results: Result[] = [];
for (const b of (process.env.BENCH_BACKENDS ?? "1,2").split(",").map(Number)) results.push(await run(b));
const counted = process.env.BENCH_COUNT === "0" ? null : await countStatements();
await admin.end();

console.log(`local delivery: ${MESSAGES} pre-queued messages (1 recipient, ${body.byteLength} bytes) over ${ACCOUNTS} accounts; latency at half the throughput, ${LATENCY_MESSAGES} messages`);
console.log("backends | queued→stored msg/s | drain s | CPU ms/msg members + pg | latency run msg/s | p50 ms | p99 ms");
for (const r of results) {
  const cpu = `${r.cpuMembers.toFixed(2)} + ${r.cpuPg.toFixed(2)}`;
  console.log(
    `${String(r.backends).padStart(8)} | ${r.throughput.toFixed(1).padStart(19)} | ${r.drainSeconds.toFixed(1).padStart(7)} | ${cpu.padStart(23)} | ${r.rate.toFixed(1).padStart(17)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)}`,
  );
}
if (counted) {
  console.log(`statements per message, backend member (1 backend, counted at the driver): ${counted.drained.toFixed(2)} pre-queued, ${counted.steady.toFixed(2)} at a steady 100 msg/s`);
}
