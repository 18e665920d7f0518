/**
 * mailcluster against Postfix on this machine, same load, alternating: `mailcluster start --role
 * all` (real process, fresh database on BENCH_DATABASE_URL's server), a private Postfix
 * delivering to a Maildir, and one discarding. Load: Postfix's smtp-source. Prints accepted and
 * end-to-end msg/s, CPU per message of all processes of each system, database statements and
 * transactions per message, and the ratios of issue 9's targets.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:compare [-- --split] [-- --cpu-prof]
 *
 * BENCH_MESSAGES (4000), BENCH_SESSIONS (20), BENCH_BYTES (2048), BENCH_ROUNDS (3),
 * BENCH_LAYOUT (all | split | remote | both | a comma list; `--split` = both = all,split; split is
 * `--role frontend` + `--role backend` submitting locally, remote the same with the frontend
 * submitting remotely and the backend locally-for-others),
 * BENCH_STATEMENTS (1: one more `--role all` run with log_statement=all counts statements; 0 = skip),
 * BENCH_PROFILE=1 or `--cpu-prof` (members run under `node --cpu-prof`; top 15 self-time functions),
 * BENCH_POSTFIX=0 (mailcluster only: its CPU ms/msg while tuning, no ratios),
 * BENCH_PG_LOG (the server's log file, when it cannot be found). Needs root (Postfix, /proc of
 * PostgreSQL's processes) and a PostgreSQL on this machine.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { topSelfTime, type Window } from "./cpuprofile.ts";
import { databaseUrl, LAYOUT_NAMES, type Layout, profileFolder, setUpTemplate } from "./mailcluster.ts";
import { parentOf } from "./proc-cpu.ts";
import { atInterrupt } from "./interrupt.ts";
import { printProfile, printResults } from "./report.ts";
import { ensureDatabaseInPrefix, serverLogFile } from "./statements.ts";
import { type RunResult, runMailcluster, runPostfix, type Server } from "./systems.ts";
import { freePorts } from "../../test/cluster/processes.ts";

const argv = process.argv.slice(2);
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
// --split = all and split; BENCH_LAYOUT: one layout, "both" (all, split) or a comma list (all,split,remote).
const layoutChoice = argv.includes("--split") ? "both" : (process.env.BENCH_LAYOUT ?? "all");
const LAYOUTS = (layoutChoice === "both" ? "all,split" : layoutChoice).split(",") as Layout[];
for (const l of LAYOUTS) if (!(l in LAYOUT_NAMES)) throw new Error(`BENCH_LAYOUT must be all, split, remote, both or a comma list of them (got "${layoutChoice}")`);
const ROUNDS = env("BENCH_ROUNDS", 3);
const PROFILE = process.env.BENCH_PROFILE === "1" || argv.includes("--cpu-prof");
const COUNT_STATEMENTS = process.env.BENCH_STATEMENTS !== "0";
const POSTFIX = process.env.BENCH_POSTFIX !== "0";
const DOMAIN = "bench.test";
const load = {
  messages: env("BENCH_MESSAGES", 4000),
  sessions: env("BENCH_SESSIONS", 20),
  bytes: env("BENCH_BYTES", 2048),
  from: "load@sender.test",
  to: `bench@${DOMAIN}`,
};
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const [{ pid }] = await admin`SELECT pg_backend_pid() AS pid`;
const server: Server = { url: serverUrl, admin, postmaster: parentOf(Number(pid)), template: `mc_cmp_template_${process.pid}` };
const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), "mc-compare-prof-")) : undefined;
let restorePrefix = async () => {};

const results: RunResult[] = [];
const windows: Window[] = [];
const dropTemplate = () => admin.unsafe(`DROP DATABASE IF EXISTS ${server.template} WITH (FORCE)`);
atInterrupt(() => admin.end());
atInterrupt(dropTemplate);
try {
  await admin.unsafe(`CREATE DATABASE ${server.template}`);
  const extraAccounts = Array.from({ length: 9 }, (_, i) => `user${i + 1}@${DOMAIN}`);
  await setUpTemplate(databaseUrl(serverUrl, server.template), DOMAIN, [load.to, ...extraAccounts], load.sessions);
  if (COUNT_STATEMENTS) {
    server.log = await serverLogFile(admin);
    restorePrefix = await ensureDatabaseInPrefix(admin);
    atInterrupt(restorePrefix);
  }
  const [postfixPort] = await freePorts(1);
  console.log(`${load.messages} messages of ${load.bytes} B, ${load.sessions} sessions (smtp-source -d), ${ROUNDS} rounds, layouts: ${LAYOUTS.join(", ")}${PROFILE ? ", members under --cpu-prof" : ""}`);
  const record = (r: RunResult) => {
    results.push(r);
    console.log(JSON.stringify(r));
  };
  for (let round = 1; round <= ROUNDS; round++) {
    record(await runMailcluster(server, { layout: LAYOUTS[0], round, load, countStatements: false, profileDir, windows }));
    if (POSTFIX) record(await runPostfix("maildir", round, load, DOMAIN, postfixPort));
    for (const layout of LAYOUTS.slice(1)) record(await runMailcluster(server, { layout, round, load, countStatements: false, profileDir, windows }));
    if (POSTFIX) record(await runPostfix("discard", round, load, DOMAIN, postfixPort));
  }
  let counted: RunResult | undefined;
  if (COUNT_STATEMENTS) {
    counted = await runMailcluster(server, { layout: "all", round: 0, load, countStatements: true });
    console.log(JSON.stringify(counted));
  }
  printResults(results, counted);
  if (profileDir) {
    for (const layout of LAYOUTS) {
      for (const role of layout === "all" ? (["all"] as const) : (["frontend", "backend"] as const)) printProfile(`${role} (${layout})`, topSelfTime(join(profileDir, profileFolder(layout, role)), windows));
    }
  }
} finally {
  await restorePrefix();
  await dropTemplate();
  await admin.end();
}
if (profileDir) {
  // The load's time spans (profile clock), for looking at the profiles further.
  writeFileSync(join(profileDir, "windows.json"), JSON.stringify(windows));
  console.log(`\nprofiles (open in Chrome DevTools): ${profileDir}`);
}
