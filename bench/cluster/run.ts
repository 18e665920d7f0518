/**
 * Cluster benchmark with real processes: the mix of cluster test 4 (every message one local
 * recipient, every other message also an external one) through the frontends, end to end
 * from the SMTP 250 to stored (local) / relayed to the sink (external), with 1 and 2
 * frontends and 1 and 2 backends. Prints messages/s and latency percentiles per layout.
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/cluster/run.ts
 *
 * BENCH_MESSAGES (default 10000), BENCH_LAYOUTS (default "1x1,2x1,1x2,2x2" = frontends x
 * backends), BENCH_CONCURRENCY (SMTP connections per frontend, default 8), BENCH_KILL=1 to
 * kill -9 and restart a backend mid-run (the scenario of test 4). Each layout gets a fresh
 * database, created and dropped here.
 */
import { sql } from "drizzle-orm";
import { num, queryRows } from "../../src/db/rows.ts";
import { createTestDatabase } from "../../test/helpers/postgres.ts";
import { until } from "../../test/helpers/until.ts";
import { crash, type MemberProcess, spawnMember, stopGracefully } from "../../test/cluster/processes.ts";
import { configureCluster, createAccounts, EXTERNAL, rawMessage, SENDER_DOMAIN, smtpClient, startWorld } from "../../test/cluster/world.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const LAYOUTS = (process.env.BENCH_LAYOUTS ?? "1x1,2x1,1x2,2x2").split(",").map((l) => l.split("x").map(Number) as [number, number]);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const KILL = process.env.BENCH_KILL === "1";
const SENDER = `bench@${SENDER_DOMAIN}`;

interface Result {
  layout: string;
  messages: number;
  acceptPerSec: number;
  endToEndPerSec: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runLayout(frontends: number, backends: number): Promise<Result> {
  const tdb = await createTestDatabase();
  const world = await startWorld();
  const procs: MemberProcess[] = [];
  try {
    await configureCluster(tdb.storage.db, world, { memberTimeoutSeconds: 5, heartbeatSeconds: 1 });
    const accounts = await createAccounts(tdb.storage.db, 100);
    const spawn = async (name: string, role: "frontend" | "backend") => {
      const p = await spawnMember({ name, role, submit: role === "frontend" ? "locally-for-others" : "locally", databaseUrl: tdb.url });
      procs.push(p);
      running.add(p);
      p.child.once("exit", () => running.delete(p));
    };
    for (let i = 1; i <= frontends; i++) await spawn(`fe${i}`, "frontend");
    for (let i = 1; i <= backends; i++) await spawn(`be${i}`, "backend");
    const fronts = procs.filter((p) => p.role === "frontend");
    const clients = fronts.map((p) => smtpClient(p.smtpPort, CONCURRENCY));

    /** queue message id → when its 250 arrived (ms since epoch, same clock as the database's). */
    const accepted = new Map<number, number>();
    const t0 = Date.now();
    let next = 0;
    let killed = false;
    const worker = async (w: number) => {
      const client = clients[w % clients.length];
      for (;;) {
        const i = next++;
        if (i >= MESSAGES) return;
        const to = [accounts[i % accounts.length]];
        if (i % 2 === 0) to.push(`r${i}@${EXTERNAL}`);
        const info = await client.sendMail({ envelope: { from: SENDER, to }, raw: rawMessage(`b-${i}`, SENDER, to) });
        const id = /queued as (\d+)/.exec(String(info.response))?.[1];
        if (!id) throw new Error(`unexpected answer: ${String(info.response)}`);
        accepted.set(Number(id), Date.now());
        if (KILL && !killed && backends > 1 && i === Math.floor(MESSAGES / 3)) {
          killed = true;
          const victim = procs.find((p) => p.name === "be1");
          if (victim) {
            await crash(victim);
            setTimeout(() => void spawn("be1", "backend"), 5_000);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY * clients.length }, (_, w) => worker(w)));
    const acceptedAt = Date.now();
    for (const c of clients) c.close();

    await until(
      async () => {
        const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM messages WHERE done_at IS NULL`);
        return num(row.n) === 0;
      },
      "every message done",
      30 * 60_000,
      250,
    );
    // Why recipients waited: the deferrals of the run, most common first (a long p99 is retries).
    const deferrals = await queryRows(
      tdb.storage.db,
      sql`SELECT reply_code, left(reply_text, 120) AS reply, count(*)::int AS n FROM attempts WHERE outcome = 'deferred' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5`,
    );
    for (const d of deferrals) console.log(`  ${frontends} fe x ${backends} be deferred ${num(d.n)}×: ${num(d.reply_code)} ${String(d.reply)}`);
    const rows = await queryRows(
      tdb.storage.db,
      sql`SELECT message_id, (extract(epoch from max(final_at)) * 1000)::float8 AS final_ms FROM recipients GROUP BY message_id`,
    );
    let last = 0;
    const latencies: number[] = [];
    for (const r of rows) {
      const at = accepted.get(num(r.message_id));
      if (at === undefined) continue; // DSNs and other generated mail
      const done = num(r.final_ms);
      last = Math.max(last, done);
      latencies.push(done - at);
    }
    latencies.sort((a, b) => a - b);
    return {
      layout: `${frontends} fe x ${backends} be`,
      messages: latencies.length,
      acceptPerSec: Math.round(MESSAGES / ((acceptedAt - t0) / 1000)),
      endToEndPerSec: Math.round(latencies.length / ((last - t0) / 1000)),
      p50: Math.round(percentile(latencies, 50)),
      p99: Math.round(percentile(latencies, 99)),
      max: Math.round(latencies[latencies.length - 1] ?? NaN),
    };
  } finally {
    await Promise.all(procs.map((p) => stopGracefully(p, 10_000)));
    await world.close();
    await tdb.drop();
  }
}

/** Every member process of the run: killed if the benchmark itself is interrupted, so none outlives it. */
const running = new Set<MemberProcess>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const p of running) p.child.kill("SIGKILL");
    process.exit(130);
  });
}

const results: Result[] = [];
for (const [fe, be] of LAYOUTS) {
  const r = await runLayout(fe, be);
  results.push(r);
  console.log(JSON.stringify(r));
}
console.log(`\n${MESSAGES} messages per layout (1 local recipient each, every other one also 1 external), ${CONCURRENCY} SMTP connections per frontend${KILL ? ", be1 killed and restarted" : ""}`);
console.table(
  results.map((r) => ({
    layout: r.layout,
    "accepted msg/s": r.acceptPerSec,
    "end-to-end msg/s": r.endToEndPerSec,
    "p50 ms": r.p50,
    "p99 ms (250 → stored/relayed)": r.p99,
    "max ms": r.max,
  })),
);
