import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { createBackendComponent } from "../../src/backend/component.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { queryRows, num } from "../../src/db/rows.ts";
import { Member } from "../../src/member.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { createLogger, silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";
import { count, createAccounts, rawMessage } from "../helpers/backends.ts";

const MESSAGES = Number(process.env.LOCAL_TEST_MESSAGES ?? 1000);
const ACCOUNTS = 50;

describe("two backends, 50 accounts, 1,000 messages (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  const members: Member[] = [];
  let accounts: string[];
  let expectedCopies = 0;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    accounts = await createAccounts(tdb.storage, ACCOUNTS);
    // A deferral (ownership moving) is retried in a second, not in five minutes.
    await setSetting(tdb.storage.db, "retry_initial_seconds", 1);
    await setSetting(tdb.storage.db, "retry_jitter", 0);
    await setSetting(tdb.storage.db, "queue_poll_interval_ms", 100);
    const runtime = await detectRuntime();
    for (const name of ["backend-a", "backend-b"]) {
      const config = loadConfig({}, { name, httpPort: 0, role: "backend", submit: "locally-for-others" });
      members.push(await Member.start({ config, storage: tdb.open(6), runtime, logger: process.env.LOCAL_TEST_LOG ? createLogger("debug", { member: name }) : silentLogger, components: [createBackendComponent()] }));
    }
  }, 120_000);

  afterAll(async () => {
    for (const m of members) await m.stop().catch(() => {});
    await tdb.drop();
  });

  it(
    "every message ends stored exactly once per recipient, and no account had two writers under one epoch",
    async () => {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        const rcpts = [accounts[i % ACCOUNTS]];
        if (i % 4 === 0) rcpts.push(accounts[(i * 7 + 3) % ACCOUNTS]);
        const unique = [...new Set(rcpts)];
        expectedCopies += unique.length;
        batch.push(
          submitMessage(tdb.storage.db, {
            envelope: { sender: "alice@remote.test", recipients: unique.map((address) => ({ address })) },
            content: rawMessage(`message ${i}`),
            submittedBy: "test",
            processor: null,
            now: new Date(),
          }),
        );
        if (batch.length === 20) await Promise.all(batch.splice(0));
      }
      await Promise.all(batch);

      await until(
        async () => (await count(tdb.storage, sql`SELECT count(*)::int AS n FROM recipients WHERE state = 'queued'`)) === 0,
        "every queued recipient delivered",
        100_000,
        200,
      );
      expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM recipients WHERE state <> 'delivered'`)).toBe(0);
      expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM mailbox_messages`)).toBe(expectedCopies);
      expect(await count(tdb.storage, sql`SELECT count(DISTINCT (account, queue_message_id))::int AS n FROM mailbox_messages`)).toBe(expectedCopies);
      // Each recipient row's copy is in its account.
      expect(
        await count(
          tdb.storage,
          sql`SELECT count(*)::int AS n FROM recipients r LEFT JOIN mailbox_messages mm ON mm.account = r.address AND mm.queue_message_id = r.message_id WHERE mm.id IS NULL`,
        ),
      ).toBe(0);
      // One writer per (account, epoch), and every stored epoch is one the lease table handed out.
      const shared = await queryRows(
        tdb.storage.db,
        sql`SELECT account, stored_epoch FROM mailbox_messages GROUP BY account, stored_epoch HAVING count(DISTINCT stored_by) > 1`,
      );
      expect(shared).toEqual([]);
      expect(
        await count(
          tdb.storage,
          sql`SELECT count(*)::int AS n FROM mailbox_messages mm JOIN account_leases l ON l.account = mm.account WHERE mm.stored_epoch < 1 OR mm.stored_epoch > l.epoch`,
        ),
      ).toBe(0);
      // uids are unique per folder and both backends did work.
      const writers = await queryRows(tdb.storage.db, sql`SELECT stored_by, count(*)::int AS n FROM mailbox_messages GROUP BY stored_by ORDER BY stored_by`);
      expect(writers.map((w) => w.stored_by)).toEqual(["backend-a", "backend-b"]);
      expect(writers.every((w) => num(w.n) > 0)).toBe(true);
    },
    180_000,
  );
});
