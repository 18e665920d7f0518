import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { databaseUrl, LAYOUT_NAMES, type Layout, startMailcluster } from "./mailcluster.ts";
import { type PostfixMode, startPostfix } from "./postfix.ts";
import { monotonicMicros, type Window } from "./cpuprofile.ts";
import { atInterrupt } from "./interrupt.ts";
import { PostgresCpu } from "./proc-cpu.ts";
import { type Load, smtpSource } from "./smtp-source.ts";
import { countStatements, logEveryStatement, logSize, xactCommits } from "./statements.ts";

type Sql = postgres.Sql;

/** One system under one load: the figures the comparison prints. */
export interface RunResult {
  system: string;
  round: number;
  acceptedPerSec: number;
  /** Until every message is stored (mailbox row / Maildir file) or, for discard, the queue is empty. */
  endToEndPerSec: number;
  /** CPU milliseconds per message, by part; `total` is what the ratio uses. */
  cpuMs: { total: number } & Record<string, number>;
  xactPerMsg?: number;
  statementsPerMsg?: number;
}

export interface Server {
  /** BENCH_DATABASE_URL: any database on the server; bench databases are created beside it. */
  url: string;
  admin: Sql;
  postmaster: number;
  template: string;
  /** Server log file, when statements are counted. */
  log?: string;
}

const POLL_MS = 50;

/** Wait until `done` holds; the time it first held, in ms (performance.now clock). */
async function waitFor(done: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await done()) return performance.now();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

function drainTimeoutMs(messages: number): number {
  return Math.max(120_000, messages * 100);
}

export interface MailclusterRun {
  layout: Layout;
  round: number;
  load: Load;
  /** Count every statement through the server log (slows the run: such a run is kept out of the ratios). */
  countStatements: boolean;
  profileDir?: string;
  /** The load's time span is added here (for the profiles). */
  windows?: Window[];
}

export async function runMailcluster(server: Server, o: MailclusterRun): Promise<RunResult> {
  const name = `mc_cmp_${randomBytes(6).toString("hex")}`;
  await server.admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${server.template}`);
  const drop = () => server.admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  const forget = atInterrupt(drop);
  const url = databaseUrl(server.url, name);
  // The benchmark's own queries are left out of the log; its transactions are subtracted below.
  const poller = postgres(url, { max: 1, onnotice: () => {}, connection: { log_statement: "none", application_name: "bench-compare" } });
  try {
    if (o.countStatements) await logEveryStatement(server.admin, name);
    const mc = await startMailcluster(o.layout, url, o.profileDir);
    let stopped = false;
    try {
      const [{ pid }] = await poller`SELECT pg_backend_pid() AS pid`;
      // Let the members' start-up transactions reach the statistics (flushed at most once a second).
      await new Promise((r) => setTimeout(r, 1500));
      const xact0 = await xactCommits(server.admin, name);
      let polls = 0;
      const pg = new PostgresCpu(name, server.postmaster, new Set([Number(pid)]));
      const log0 = server.log && o.countStatements ? logSize(server.log) : 0;
      const cpu0 = mc.cpuSeconds();
      pg.start();
      const t0 = performance.now();
      const window0 = monotonicMicros();
      const acceptedSeconds = await smtpSource(o.load, mc.smtpPort);
      const storedAt = await waitFor(
        async () => {
          polls++;
          const [r] = await poller`SELECT count(*)::int AS n FROM mailbox_messages`;
          return Number(r.n) >= o.load.messages;
        },
        `${o.load.messages} messages in mailbox_messages`,
        drainTimeoutMs(o.load.messages),
      ).catch(async (err: unknown) => {
        const states = await poller`SELECT state, count(*)::int AS n FROM recipients GROUP BY state`;
        const [stored] = await poller`SELECT count(*)::int AS n FROM mailbox_messages`;
        const tails = mc.members.map((m) => `--- ${m.name}:\n${m.output().slice(-3000)}`).join("\n");
        throw new Error(`${(err as Error).message}: ${stored.n} stored, recipients ${JSON.stringify(states)}\n${tails}`);
      });
      o.windows?.push([window0, monotonicMicros()]);
      const memberCpu = mc.cpuSeconds() - cpu0;
      const pgCpu = pg.stop();
      const log1 = server.log && o.countStatements ? logSize(server.log) : 0;
      await mc.stop();
      stopped = true;
      await poller.end();
      // Each backend flushes its statistics when it exits: wait until every session on the database is gone.
      await waitFor(async () => {
        const [r] = await server.admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${name}`;
        return Number(r.n) === 0;
      }, "every session on the bench database closed", 30_000);
      const xact = (await xactCommits(server.admin, name)) - xact0 - polls;
      const m = o.load.messages;
      const result: RunResult = {
        system: LAYOUT_NAMES[o.layout],
        round: o.round,
        acceptedPerSec: m / acceptedSeconds,
        endToEndPerSec: m / ((storedAt - t0) / 1000),
        cpuMs: {
          total: (1000 * (memberCpu + pgCpu.backends + pgCpu.shared)) / m,
          members: (1000 * memberCpu) / m,
          "pg backends": (1000 * pgCpu.backends) / m,
          "pg shared": (1000 * pgCpu.shared) / m,
        },
        xactPerMsg: xact / m,
      };
      if (server.log && o.countStatements) result.statementsPerMsg = (await countStatements(server.log, log0, log1, name)) / m;
      return result;
    } finally {
      if (!stopped) await mc.stop();
    }
  } finally {
    await poller.end().catch(() => {});
    await drop();
    forget();
  }
}

/** Files anywhere under the queue directories that hold mail not yet delivered. */
function queued(queueDir: string): number {
  let n = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else n++;
    }
  };
  for (const sub of ["maildrop", "incoming", "active", "deferred"]) walk(join(queueDir, sub));
  return n;
}

export async function runPostfix(mode: PostfixMode, round: number, load: Load, domain: string, port: number): Promise<RunResult> {
  const pf = await startPostfix(mode, domain, port);
  try {
    const cpu0 = pf.cpuSeconds();
    const t0 = performance.now();
    const acceptedSeconds = await smtpSource(load, port);
    const doneAt =
      mode === "maildir"
        ? await waitFor(() => pf.stored() >= load.messages, `${load.messages} files in Maildir/new`, drainTimeoutMs(load.messages))
        : await waitFor(() => queued(pf.queueDir) === 0, "an empty Postfix queue", drainTimeoutMs(load.messages));
    const cpu = pf.cpuSeconds() - cpu0;
    return {
      system: mode === "maildir" ? "Postfix → Maildir" : "Postfix → discard",
      round,
      acceptedPerSec: load.messages / acceptedSeconds,
      endToEndPerSec: load.messages / ((doneAt - t0) / 1000),
      cpuMs: { total: (1000 * cpu) / load.messages },
    };
  } finally {
    await pf.stop();
  }
}
