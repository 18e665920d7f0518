import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { openPostgresJs } from "../../adapters/storage/postgres-js/index.ts";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { loadConfig } from "../../src/config.ts";
import { sql } from "drizzle-orm";
import { migrate } from "../../src/db/migrate.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import type { Storage } from "../../src/db/storage.ts";
import { Member } from "../../src/member.ts";
import { smtpFrontendComponent } from "../../src/smtp/component.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { startPrivatePostgres, type PrivatePostgres } from "../helpers/private-postgres.ts";

// A member whose PostgreSQL restarts: it keeps running, refuses mail with 451 4.3.0 while the
// database is down (quickly, not after a 30 s connect timeout), and accepts again by itself.
// The server is private to this file: stopping the shared one would break everybody else.
let pg: PrivatePostgres;
let storage: Storage;
let member: Member;
let port = 0;
const dataDir = mkdtempSync(join(tmpdir(), "mc-restart-"));

beforeAll(async () => {
  pg = await startPrivatePostgres();
  storage = openPostgresJs(pg.url, { max: 4 });
  await migrate(storage.db);
  await addDomain(storage.db, "local.test");
  await addAccount(storage.db, { address: "alice@local.test" });
  const config = { ...loadConfig({ MEMBER_NAME: "restart-member", MAILCLUSTER_DATA: dataDir, MAILCLUSTER_HOSTNAME: "mx.test" }), smtpPort: 0, httpPort: 0, roles: ["frontend" as const] };
  const frontend = smtpFrontendComponent();
  member = await Member.start({ config, storage, runtime: await detectRuntime(), logger: silentLogger, components: [frontend], runWorker: false });
  port = frontend.frontend()?.port ?? 0;
});

afterAll(async () => {
  await member?.stop().catch(() => {});
  await storage?.close().catch(() => {});
  await pg?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

async function send(subject: string): Promise<{ code: number; ms: number; text: string }> {
  const t0 = Date.now();
  const t = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, connectionTimeout: 20_000, greetingTimeout: 20_000, socketTimeout: 20_000 });
  try {
    const info = await t.sendMail({ from: "s@elsewhere.test", to: "alice@local.test", subject, text: "restart" });
    return { code: Number(info.response.slice(0, 3)), ms: Date.now() - t0, text: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, ms: Date.now() - t0, text: e.response ?? e.message };
  } finally {
    t.close();
  }
}

describe("a member whose database restarts", () => {
  it("answers 451 4.3.0 within 5 s while PostgreSQL is down, and 250 within 5 s of it being back", async () => {
    expect((await send("before")).code).toBe(250);
    await pg.stop();
    // Several attempts while it is down: each failed connect grows the driver's reconnect backoff.
    for (let i = 0; i < 8; i++) {
      const r = await send(`down ${i}`);
      expect(r.code, r.text).toBe(451);
      expect(r.text).toContain("4.3.0");
      expect(r.ms).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await pg.start();
    const back = Date.now();
    let accepted: { code: number; ms: number; text: string } | null = null;
    while (Date.now() - back < 15_000) {
      const r = await send("after");
      if (r.code === 250) {
        accepted = r;
        break;
      }
      expect(r.code, r.text).toBeGreaterThanOrEqual(400);
      expect(r.code, r.text).toBeLessThan(500);
    }
    expect(accepted, "mail accepted again after the restart").not.toBeNull();
    expect(Date.now() - back).toBeLessThan(5_000);
    const [row] = await queryRows(storage.db, sql`select count(*) as n from messages`);
    expect(num(row.n), "the two accepted messages, nothing from the refused attempts").toBe(2);
  });
});
