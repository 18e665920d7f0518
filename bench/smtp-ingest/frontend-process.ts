/**
 * The frontend under test, in its own process so its RSS is its own. Started by run.ts:
 *   DATABASE_URL=... node --import tsx bench/smtp-ingest/frontend-process.ts
 * Prints "READY <port>"; reads commands on stdin: "set <key> <json>", "reset-peak", "rss" (→ "RSS <bytes>"), "peak" (→ "PEAK <bytes>").
 */
import { createInterface } from "node:readline";
import { sql } from "drizzle-orm";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import type { AppContext } from "../../src/app-context.ts";
import { loadSettings, type Settings } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { generateSelfSigned } from "../../src/smtp/tls.ts";
import { startSmtpFrontend } from "../../src/smtp/frontend.ts";
import { systemClock, systemRandom } from "../../src/util/clock.ts";
import { testAppContext } from "../../test/helpers/app-context.ts";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is required");
const storage = openPostgresJs(url, { max: Number(process.env.BENCH_POOL ?? 10), applicationName: "bench-frontend" });
const settings: Settings = await loadSettings(storage.db);
const config = { ...loadConfig({ MEMBER_NAME: "bench-fe", MAILCLUSTER_HOSTNAME: "mx.bench", SUBMIT_MODE: "locally" }), smtpPort: 0 };
const ctx: AppContext = testAppContext(storage, {
  config,
  clock: systemClock,
  random: systemRandom,
  settings,
  ping: async () => {
    await storage.db.execute(sql`SELECT 1`);
  },
});
const frontend = await startSmtpFrontend(ctx, { port: 0, submissionPort: null, smtpsPort: null, tls: await generateSelfSigned("mx.bench") });

let peak = 0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage.rss());
};
setInterval(sample, 10).unref();

process.stdout.write(`READY ${frontend.port}\n`);
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [cmd, key, value] = line.trim().split(/\s+/);
  if (cmd === "set" && key && value !== undefined) {
    (settings as Record<string, unknown>)[key] = JSON.parse(value);
    process.stdout.write("OK\n");
  } else if (cmd === "reset-peak") {
    peak = process.memoryUsage.rss();
    process.stdout.write("OK\n");
  } else if (cmd === "rss") {
    process.stdout.write(`RSS ${process.memoryUsage.rss()}\n`);
  } else if (cmd === "peak") {
    sample();
    process.stdout.write(`PEAK ${peak}\n`);
  }
});
rl.on("close", () => {
  void frontend
    .close()
    .then(() => storage.close())
    .then(() => process.exit(0));
});
