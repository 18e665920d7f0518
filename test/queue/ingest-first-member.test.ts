import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { Member } from "../../src/member.ts";
import { componentsFor } from "../../src/roles.ts";
import type { SmtpFrontendComponent } from "../../src/smtp/component.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";
import { opened, type RawClient } from "../smtp/harness.ts";

const SESSIONS = 10;
const HOLD_MS = 800;

describe("ingest first in a --role all member (real PostgreSQL, real sockets)", () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await addDomain(tdb.storage.db, "local.test");
    await addAccount(tdb.storage.db, { address: "alice@local.test" });
    await setSetting(tdb.storage.db, "smtp_greeting_delay_ms", 0);
    await setSetting(tdb.storage.db, "inbound_auth_results", false);
    await setSetting(tdb.storage.db, "queue_ingest_first_ms", HOLD_MS);
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it("sessions that queue up get their 250s first; delivery follows within queue_ingest_first_ms, and /metrics shows the hold", async () => {
    const config = { ...loadConfig({ MEMBER_NAME: "all-1", MAILCLUSTER_ROLE: "all", MAILCLUSTER_HOSTNAME: "mx.test", MAILCLUSTER_DATA: "/nonexistent" }), smtpPort: 0, httpPort: 0 };
    const components = await componentsFor(config);
    const member = await Member.start({ config, storage: tdb.storage, runtime: await detectRuntime(), logger: silentLogger, components });
    const clients: RawClient[] = [];
    try {
      const frontend = components.find((c): c is SmtpFrontendComponent => c.name === "smtp-frontend");
      const port = frontend?.frontend()?.port ?? 0;
      for (let i = 0; i < SESSIONS; i++) {
        const c = await opened(port);
        clients.push(c);
        expect((await c.cmd(`MAIL FROM:<s${i}@elsewhere.test>`)).code).toBe(250);
        expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
        expect((await c.cmd("DATA")).code).toBe(354);
      }
      // A lock makes the first group commit wait, so the other DATA completions queue up behind
      // it and are written together: the member's sessions are queuing, ingest is busy.
      const locker = tdb.open(1);
      let release = () => {};
      const released = new Promise<void>((r) => (release = r));
      let locked = () => {};
      const isLocked = new Promise<void>((r) => (locked = r));
      const holding = locker.db.transaction(async (tx) => {
        await tx.execute(sql`LOCK TABLE messages IN SHARE MODE`);
        locked();
        await released;
      });
      await isLocked;
      for (const [i, c] of clients.entries()) c.write(`Subject: ${i}\r\n\r\nbody ${i}\r\n.\r\n`);
      const replies = Promise.all(clients.map((c) => c.reply()));
      await new Promise((r) => setTimeout(r, 300));
      release();
      await holding;
      await locker.close();
      const t0 = performance.now();
      for (const r of await replies) expect(r.code).toBe(250);
      const stored = async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*) AS n FROM mailbox_messages`))[0].n);
      // The first commit (one message, written alone) may be delivered at once; the others are held.
      expect(await stored()).toBeLessThanOrEqual(1);
      const commits = await fetch(`http://127.0.0.1:${member.httpPort}/metrics`).then((r) => r.text());
      expect(Number(/^mailcluster_submit_group_commits_total (\d+)$/m.exec(commits)?.[1])).toBeLessThan(SESSIONS);
      await until(async () => (await stored()) === SESSIONS, "all stored", 10_000, 10);
      expect(performance.now() - t0).toBeLessThan(HOLD_MS + 3000);
      const metrics = await fetch(`http://127.0.0.1:${member.httpPort}/metrics`).then((r) => r.text());
      const held = Number(/^mailcluster_worker_ingest_first_hold_seconds_total ([0-9.e+-]+)$/m.exec(metrics)?.[1]);
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan((HOLD_MS + 3000) / 1000);
    } finally {
      for (const c of clients) c.end();
      await member.stop();
    }
  });
});
