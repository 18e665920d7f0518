/**
 * SMTP ingest benchmark against real PostgreSQL: messages/s accepted (committed before the 250)
 * by one frontend process, for 1/20/100 concurrent sessions × 2 KiB/100 KiB messages, reusing the
 * connection or opening one per message (with the 100 ms greeting delay and with 0), plus the
 * frontend's peak RSS, and a memory run: 100 idle sessions + one 25 MiB message in flight.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/smtp-ingest/run.ts
 *
 * Creates and drops its own database. BENCH_SECONDS (default 5) per run.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { migrate } from "../../src/db/migrate.ts";
import { BenchSession, makeMessage } from "./client.ts";

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const name = `mc_bench_smtp_${randomBytes(4).toString("hex")}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${name}`);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const url = u.toString();
const storage = openPostgresJs(url, { max: 2 });
await migrate(storage.db);
await addDomain(storage.db, "bench.test");
await addAccount(storage.db, { address: "alice@bench.test" });
await setSetting(storage.db, "smtp_max_connections_per_ip", 1000);

// The frontend process and its stdin/stdout control channel. A fresh one for the memory run and
// for the throughput runs, so neither inherits the other's heap.
// BENCH_CHILD_ARGS="--cpu-prof" profiles the frontend.
const childArgs = (process.env.BENCH_CHILD_ARGS ?? "").split(" ").filter(Boolean);
let child: ChildProcessByStdio<Writable, Readable, null> | null = null;
let waiters: Array<(line: string) => void> = [];
const nextLine = () => new Promise<string>((resolve) => waiters.push(resolve));
async function control(cmd: string): Promise<string> {
  const reply = nextLine();
  child?.stdin.write(cmd + "\n");
  return reply;
}
async function startFrontend(): Promise<number> {
  await stopFrontend();
  const c = spawn(process.execPath, [...childArgs, "--import", "tsx", fileURLToPath(new URL("./frontend-process.ts", import.meta.url))], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ["pipe", "pipe", "inherit"],
  });
  child = c;
  waiters = [];
  createInterface({ input: c.stdout }).on("line", (line) => waiters.shift()?.(line));
  const ready = await nextLine();
  const port = Number(/^READY (\d+)$/.exec(ready)?.[1]);
  if (!port) throw new Error(`frontend did not start: ${ready}`);
  return port;
}
async function stopFrontend(): Promise<void> {
  const c = child;
  if (!c) return;
  child = null;
  c.stdin.end();
  await new Promise((resolve) => c.once("exit", resolve));
}

interface Row {
  sessions: number;
  size: string;
  reuse: string;
  greeting_ms: number;
  accepted: number;
  refused: number;
  msgs_per_s: string;
  peak_rss_mb: string;
}

try {
  let port = 0;

  // Memory first, on a fresh process: 100 idle sessions, then one 25 MiB message in flight.
  const memory = async () => {
    await storage.db.execute(sql`TRUNCATE messages, recipients, message_bodies RESTART IDENTITY CASCADE`);
    await control("set smtp_greeting_delay_ms 0");
    await control("reset-peak");
    const idle = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const s = await BenchSession.connect(port);
        await s.hello();
        return s;
      }),
    );
    const idleRss = Number(/^RSS (\d+)$/.exec(await control("rss"))?.[1]);
    const bigSize = 25 * 1024 * 1024 - 64 * 1024;
    const big = makeMessage(bigSize);
    const s = await BenchSession.connect(port);
    await s.hello();
    const t0 = performance.now();
    const ok = await s.send("bench@elsewhere.test", "alice@bench.test", big);
    const ms = performance.now() - t0;
    const peak = Number(/^PEAK (\d+)$/.exec(await control("peak"))?.[1]);
    s.quit();
    for (const x of idle) x.quit();
    console.log(`memory: 100 idle sessions + one ${(big.byteLength / 1048576).toFixed(1)} MiB message: ${ok ? "accepted" : "REFUSED"} in ${ms.toFixed(0)} ms, frontend RSS with the idle sessions ${(idleRss / 1048576).toFixed(0)} MB, peak ${(peak / 1048576).toFixed(0)} MB`);
  };
  if (process.env.BENCH_ONLY !== "20") {
    port = await startFrontend();
    await memory();
  }
  port = await startFrontend();

  const rows: Row[] = [];
  const run = async (sessions: number, size: number, reuse: boolean, greetingMs: number) => {
    await storage.db.execute(sql`TRUNCATE messages, recipients, message_bodies RESTART IDENTITY CASCADE`);
    await control(`set smtp_greeting_delay_ms ${greetingMs}`);
    await control("reset-peak");
    const body = makeMessage(size);
    let accepted = 0;
    let refused = 0;
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: sessions }, async () => {
        let s: BenchSession | null = null;
        while (performance.now() < deadline) {
          if (!s) {
            s = await BenchSession.connect(port);
            await s.hello();
          }
          if (await s.send("bench@elsewhere.test", "alice@bench.test", body)) accepted++;
          else refused++;
          if (!reuse) {
            s.quit();
            s = null;
          }
        }
        s?.quit();
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const peak = Number(/^PEAK (\d+)$/.exec(await control("peak"))?.[1]);
    // Durability check: the 250s are rows in the queue.
    const [{ n }] = (await storage.db.execute(sql`SELECT count(*)::int AS n FROM messages`)) as Array<{ n: number }>;
    if (n !== accepted) throw new Error(`accepted ${accepted} but the queue holds ${n}`);
    const row: Row = {
      sessions,
      size: size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
      reuse: reuse ? "yes" : "no",
      greeting_ms: greetingMs,
      accepted,
      refused,
      msgs_per_s: (accepted / seconds).toFixed(0),
      peak_rss_mb: (peak / 1048576).toFixed(0),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  };

  // BENCH_ONLY=memory skips the throughput runs; BENCH_ONLY=20 runs only 20 reusing sessions × 2 KiB.
  if (process.env.BENCH_ONLY === "20") await run(20, 2048, true, 0);
  for (const size of process.env.BENCH_ONLY ? [] : [2048, 100 * 1024]) {
    for (const sessions of [1, 20, 100]) {
      await run(sessions, size, true, 0);
      await run(sessions, size, false, 0);
    }
  }
  // What the early-talker pause costs a client that opens one connection per message.
  if (!process.env.BENCH_ONLY) {
    await run(20, 2048, false, 100);
    await run(1, 2048, false, 100);
    console.table(rows);
  }

} finally {
  await stopFrontend();
  await storage.close();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
