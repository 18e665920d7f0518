import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { Relay } from "../../src/relay/relay.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { freePort } from "../helpers/ports.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";
import { testContext } from "./context.ts";
import { fakeDns } from "./fake-dns.ts";
import { queuePass } from "./queue-pass.ts";

const SMTP_SINK = "/usr/sbin/smtp-sink";

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Postfix's smtp-sink as a real peer: a happy path against an SMTP implementation that is not ours. */
describe("relay to Postfix smtp-sink", () => {
  let tdb: TestDatabase;
  let child: ChildProcess | null = null;
  let dumpDir = "";
  let port = 0;

  beforeAll(async () => {
    if (!existsSync(SMTP_SINK)) {
      throw new Error(`${SMTP_SINK} is missing: install Postfix (apt-get install -y postfix); CI installs it. This test does not skip.`);
    }
    tdb = await createTestDatabase();
    dumpDir = mkdtempSync(join(tmpdir(), "mc-smtp-sink-"));
    // smtp-sink drops to "nobody" before writing dump files.
    chmodSync(dumpDir, 0o777);
    port = await freePort();
    child = spawn(SMTP_SINK, ["-u", "nobody", "-h", "sink.postfix.test", "-d", join(dumpDir, "%H%M%S."), `127.0.0.1:${port}`, "20"], { stdio: "ignore" });
    await until(() => canConnect(port), `smtp-sink listening on ${port}`, 10_000, 50);
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
    await tdb?.drop();
  });

  it("delivers messages with several recipients over one reused connection, DSN and 8BITMIME negotiated", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
    const ctx = testContext(tdb.storage, clock, { settings: { relay_idle_ms: 2000 } });
    const relay = new Relay({
      db: ctx.db,
      resolver: fakeDns({}),
      random: ctx.random,
      clock,
      logger: ctx.logger,
      settings: () => ctx.settings(),
      ehloName: ctx.config.hostname,
      memberName: ctx.config.memberName,
      isFrontend: true,
    });
    try {
      await setRoute(ctx.db, { domain: "postfix.test", hosts: `127.0.0.1:${port}` });
      const transport = createRelayTransport(relay);
      for (let i = 0; i < 3; i++) {
        await submitMessage(ctx.db, {
          envelope: { sender: "alice@origin.test", recipients: [{ address: `a${i}@postfix.test`, notify: ["FAILURE"] }, { address: `b${i}@postfix.test` }], envid: `E${i}`, ret: "HDRS" },
          content: Buffer.from(`From: alice@origin.test\r\nSubject: m${i} caf\u00e9\r\n\r\nbody ${i} d\u00e9j\u00e0\r\n`, "utf8"),
          submittedBy: "relay-test",
          processor: "relay-test",
          now: clock.now(),
        });
      }
      await queuePass(ctx, transport);
      const rows = await queryRows(ctx.db, sql`SELECT state, count(*)::int AS n FROM recipients GROUP BY state`);
      expect(rows.map((r) => [str(r.state), num(r.n)])).toEqual([["delivered", 6]]);
      const att = await queryRows(ctx.db, sql`SELECT DISTINCT reply_code, enhanced_status, remote_host FROM attempts`);
      expect(att).toHaveLength(1);
      expect(num(att[0].reply_code)).toBe(250);
      expect(str(att[0].enhanced_status)).toMatch(/^2\.0\.0$/);
      expect(str(att[0].remote_host)).toBe(`[127.0.0.1]:${port}`);
      // Consecutive messages reuse the session: one idle connection remains in the pool.
      expect(relay.pool.idleCount).toBe(1);

      await until(() => readdirSync(dumpDir).length > 0, "smtp-sink dump files", 5000, 50);
      const dumped = readdirSync(dumpDir)
        .map((f) => readFileSync(join(dumpDir, f), "latin1"))
        .join("\n");
      for (let i = 0; i < 3; i++) {
        expect(dumped).toContain(`a${i}@postfix.test`);
        expect(dumped).toContain(`b${i}@postfix.test`);
        expect(dumped).toContain(`Subject: m${i}`);
        expect(dumped).toContain(`X-Mail-Args: <alice@origin.test> BODY=8BITMIME RET=HDRS ENVID=E${i}`);
        expect(dumped).toContain(`X-Rcpt-Args: <a${i}@postfix.test> NOTIFY=FAILURE`);
      }
    } finally {
      await relay.close();
    }
  });
});
