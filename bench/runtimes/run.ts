/**
 * Node, Bun and Deno side by side, on real PostgreSQL:
 * - start: `mailcluster start` (role all, database already migrated) from spawn until /health
 *   answers and SMTP listens; the member's RSS once idle; SIGTERM until exit 0 (median of runs);
 * - ingest: the SMTP frontend process of bench/smtp-ingest on each runtime, 2 KiB messages over
 *   1 and 20 pipelining sessions, messages/s committed before the 250, and its peak RSS;
 * - http: requests/s through each runtime's HTTP adapter (and, on Deno, Node's adapter too: the
 *   reason adapters/runtime/deno exists), a small JSON GET and a 64 KiB POST read in full.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/runtimes/run.ts
 *
 * BENCH_RUNTIMES (default node,bun,deno), BENCH_SECONDS per measured run (default 5),
 * BENCH_STARTS (default 3, after one warm-up start that fills the runtimes' compile caches).
 * Creates and drops its own database.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { migrate } from "../../src/db/migrate.ts";
import { freePorts } from "../../test/cluster/processes.ts";
import { BenchSession, makeMessage } from "../smtp-ingest/client.ts";

type RuntimeName = "node" | "bun" | "deno";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "mailcluster.js");
const RUNTIMES = (process.env.BENCH_RUNTIMES ?? "node,bun,deno").split(",").map((r) => r.trim()) as RuntimeName[];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STARTS = Number(process.env.BENCH_STARTS ?? 3);

/** How each runtime runs a TypeScript file (Node through tsx, as the bin does), from node_modules. */
function command(runtime: RuntimeName, script: string, args: string[] = []): { cmd: string; args: string[] } {
  if (runtime === "bun") return { cmd: join(ROOT, "node_modules", ".bin", "bun"), args: [script, ...args] };
  if (runtime === "deno") return { cmd: join(ROOT, "node_modules", ".bin", "deno"), args: ["run", "-A", script, ...args] };
  return { cmd: "node", args: script === BIN ? [script, ...args] : ["--import", "tsx", script, ...args] };
}

function version(runtime: RuntimeName): string {
  const { cmd } = command(runtime, "");
  const out = execFileSync(cmd, ["--version"], { encoding: "utf8" });
  return `${runtime} ${out.split("\n")[0]?.replace(/^deno /, "").replace(/^v/, "").split(" ")[0]}`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** Resident set of a process from /proc (Linux): the same measure whatever runs inside. */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes the command name: state is the 3rd, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function poll(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out: ${what}`);
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
  } catch {
    return false;
  }
}

interface StartFigures {
  startMs: number;
  idleRss: number;
  stopMs: number;
}

/** One `mailcluster start` from spawn to ready, idle RSS, then SIGTERM to exit. */
async function startOnce(runtime: RuntimeName, databaseUrl: string, n: number): Promise<StartFigures> {
  const [smtpPort, httpPort] = await freePorts(2);
  const { cmd, args } = command(runtime, BIN, ["start", "--name", `rt-${runtime}-${n}`, "--smtp-port", String(smtpPort), "--http-port", String(httpPort)]);
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await poll(async () => {
      if (child.exitCode !== null) throw new Error(`${runtime} member exited ${child.exitCode}: ${out.slice(-1500)}`);
      return out.includes("smtp frontend listening") && (await healthy(httpPort));
    }, `${runtime} member ready`);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const startMs = performance.now() - t0;
  // Idle: the timers have run and the first heartbeat is done.
  await new Promise((r) => setTimeout(r, 1500));
  const idleRss = rssOf(child.pid ?? 0);
  const t1 = performance.now();
  child.kill("SIGTERM");
  const code = await exit;
  const stopMs = performance.now() - t1;
  if (code !== 0) throw new Error(`${runtime} member exited ${code} on SIGTERM: ${out.slice(-1500)}`);
  return { startMs, idleRss, stopMs };
}

/** A long-lived helper process speaking lines on stdin/stdout (frontend-process.ts, http-server.ts). */
class Controlled {
  private waiters: Array<(line: string) => void> = [];
  private constructor(readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    createInterface({ input: child.stdout }).on("line", (line) => this.waiters.shift()?.(line));
  }
  static async start(runtime: RuntimeName, script: string, args: string[], env: Record<string, string>): Promise<{ proc: Controlled; port: number }> {
    const c = command(runtime, script, args);
    const proc = new Controlled(spawn(c.cmd, c.args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] }));
    const ready = await proc.next();
    const port = Number(/^READY (\d+)$/.exec(ready)?.[1]);
    if (!port) throw new Error(`${runtime} ${script} did not start: ${ready}`);
    return { proc, port };
  }
  next(): Promise<string> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  control(cmd: string): Promise<string> {
    const reply = this.next();
    this.child.stdin.write(cmd + "\n");
    return reply;
  }
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.stdin.end();
    await exited;
  }
}

interface IngestFigures {
  sessions: number;
  perSec: number;
  /** The frontend's CPU per message: what the runtime costs, whatever the client and database manage. */
  cpuUsPerMsg: number;
  peakRss: number;
}

async function ingest(runtime: RuntimeName, storage: ReturnType<typeof openPostgresJs>, databaseUrl: string): Promise<IngestFigures[]> {
  const script = fileURLToPath(new URL("../smtp-ingest/frontend-process.ts", import.meta.url));
  const { proc, port } = await Controlled.start(runtime, script, [], { DATABASE_URL: databaseUrl });
  const body = makeMessage(2048);
  const figures: IngestFigures[] = [];
  try {
    await proc.control("set smtp_greeting_delay_ms 0");
    for (const sessions of [1, 20]) {
      await storage.db.execute(sql`TRUNCATE messages, recipients, message_bodies RESTART IDENTITY CASCADE`);
      await proc.control("reset-peak");
      let accepted = 0;
      const cpu0 = cpuMsOf(proc.child.pid ?? 0);
      const t0 = performance.now();
      const deadline = t0 + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: sessions }, async () => {
          const s = await BenchSession.connect(port);
          await s.hello();
          while (performance.now() < deadline) if (await s.send("bench@elsewhere.test", "alice@bench.test", body)) accepted++;
          s.quit();
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpuMs = cpuMsOf(proc.child.pid ?? 0) - cpu0;
      const peak = Number(/^PEAK (\d+)$/.exec(await proc.control("peak"))?.[1]);
      // The 250s are rows in the queue, or the figure means nothing.
      const [{ n }] = (await storage.db.execute(sql`SELECT count(*)::int AS n FROM messages`)) as Array<{ n: number }>;
      if (n !== accepted) throw new Error(`${runtime}: accepted ${accepted} but the queue holds ${n}`);
      figures.push({ sessions, perSec: accepted / seconds, cpuUsPerMsg: (cpuMs * 1000) / accepted, peakRss: peak });
    }
  } finally {
    await proc.stop();
  }
  return figures;
}

interface HttpFigures {
  perSec: number;
  /** The server's CPU per request: one client process may not saturate the server, this still compares. */
  cpuUsPerRequest: number;
}

/** Requests/s and server CPU per request with 16 keep-alive clients for SECONDS/2 per shape. */
async function http(runtime: RuntimeName, adapter: RuntimeName): Promise<{ get: HttpFigures; post: HttpFigures }> {
  const script = fileURLToPath(new URL("./http-server.ts", import.meta.url));
  const { proc, port } = await Controlled.start(runtime, script, [adapter], {});
  const payload = randomBytes(64 * 1024);
  const load = async (request: () => Promise<Response>): Promise<HttpFigures> => {
    let done = 0;
    const cpu0 = cpuMsOf(proc.child.pid ?? 0);
    const t0 = performance.now();
    const deadline = t0 + (SECONDS * 1000) / 2;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < deadline) {
          const res = await request();
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`${runtime}/${adapter}: HTTP ${res.status}`);
          done++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { perSec: done / seconds, cpuUsPerRequest: ((cpuMsOf(proc.child.pid ?? 0) - cpu0) * 1000) / done };
  };
  try {
    const get = await load(() => fetch(`http://127.0.0.1:${port}/health`));
    const post = await load(() => fetch(`http://127.0.0.1:${port}/deliver`, { method: "POST", body: payload, headers: { "content-type": "application/octet-stream" } }));
    return { get, post };
  } finally {
    await proc.stop();
  }
}

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const name = `mc_bench_rt_${randomBytes(4).toString("hex")}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`CREATE DATABASE ${name}`);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const url = u.toString();
const storage = openPostgresJs(url, { max: 2 });
try {
  await migrate(storage.db);
  await addDomain(storage.db, "bench.test");
  await addAccount(storage.db, { address: "alice@bench.test" });
  await setSetting(storage.db, "smtp_max_connections_per_ip", 1000);

  const startRows: Array<Record<string, string>> = [];
  const ingestRows: Array<Record<string, string>> = [];
  const httpRows: Array<Record<string, string>> = [];
  for (const runtime of RUNTIMES) {
    const v = version(runtime);
    await startOnce(runtime, url, 0);
    const starts: StartFigures[] = [];
    for (let i = 1; i <= STARTS; i++) starts.push(await startOnce(runtime, url, i));
    const start = {
      runtime: v,
      start_ms: median(starts.map((s) => s.startMs)).toFixed(0),
      idle_rss_mb: mb(median(starts.map((s) => s.idleRss))),
      sigterm_to_exit_ms: median(starts.map((s) => s.stopMs)).toFixed(0),
    };
    startRows.push(start);
    console.log(JSON.stringify({ start }));

    for (const f of await ingest(runtime, storage, url)) {
      const row = { runtime: v, sessions: String(f.sessions), msgs_per_s: f.perSec.toFixed(0), cpu_us_per_msg: f.cpuUsPerMsg.toFixed(0), peak_rss_mb: mb(f.peakRss) };
      ingestRows.push(row);
      console.log(JSON.stringify({ ingest: row }));
    }

    const adapters: RuntimeName[] = runtime === "deno" ? ["deno", "node"] : [runtime];
    for (const adapter of adapters) {
      const h = await http(runtime, adapter);
      const label = adapter === "deno" ? "Deno.serve" : adapter === "bun" ? "Bun.serve" : "@hono/node-server";
      const row = {
        runtime: v,
        adapter: label,
        get_per_s: h.get.perSec.toFixed(0),
        get_cpu_us: h.get.cpuUsPerRequest.toFixed(0),
        post_64k_per_s: h.post.perSec.toFixed(0),
        post_cpu_us: h.post.cpuUsPerRequest.toFixed(0),
      };
      httpRows.push(row);
      console.log(JSON.stringify({ http: row }));
    }
  }
  console.log(`\nstart (median of ${STARTS}, PostgreSQL, already migrated)`);
  console.table(startRows);
  console.log(`ingest (2 KiB messages, pipelining sessions, ${SECONDS} s per run; cpu_us = frontend CPU per message)`);
  console.table(ingestRows);
  console.log("http (16 keep-alive clients in one Node process; cpu_us = server CPU per request)");
  console.table(httpRows);
} finally {
  await storage.close();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
