import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, opened, queueCounts, queueIdOf, type RawClient, startHarness } from "./harness.ts";

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test" });
});
afterAll(async () => {
  await tdb?.drop();
});

/** n sessions, each with one transaction up to the DATA 354. */
async function sessionsAtData(port: number, n: number): Promise<RawClient[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = await opened(port);
      expect((await c.cmd(`MAIL FROM:<s${i}@elsewhere.test>`)).code).toBe(250);
      expect((await c.cmd("RCPT TO:<alice@local.test>")).code).toBe(250);
      expect((await c.cmd("DATA")).code).toBe(354);
      return c;
    }),
  );
}

/** Every session ends its message at once, so the DATA completions meet in the group commit. */
async function endAll(clients: RawClient[]) {
  for (const [i, c] of clients.entries()) c.write(`Subject: ${i}\r\n\r\nbody ${i}\r\n.\r\n`);
  return Promise.all(clients.map((c) => c.reply()));
}

describe("group commit at DATA", () => {
  it("concurrent sessions each get their own 250 with their own queue id, after the commit", async () => {
    await clearQueue(tdb.storage);
    const h = await startHarness(tdb.storage);
    try {
      const clients = await sessionsAtData(h.port, 12);
      const replies = await endAll(clients);
      for (const r of replies) expect(r.code).toBe(250);
      expect(new Set(replies.map(queueIdOf)).size).toBe(12);
      // 250 only after COMMIT: every queue id answered is already there.
      expect(await queueCounts(tdb.storage)).toEqual({ messages: 12, recipients: 12, bodies: 12 });
      const metrics = h.ctx.metrics.render();
      expect(metrics).toMatch(/^mailcluster_submit_group_committed_messages_total 12$/m);
      const statements = Number(/^mailcluster_submit_group_commits_total (\d+)$/m.exec(metrics)?.[1]);
      expect(statements).toBeGreaterThanOrEqual(1);
      expect(statements).toBeLessThanOrEqual(12);
      for (const c of clients) c.end();
    } finally {
      await h.close();
    }
  });

  it("a database lost under a batch answers 451 4.3.0 to every session in it and stores nothing", async () => {
    await clearQueue(tdb.storage);
    const storage = tdb.open(4);
    const h = await startHarness(storage);
    try {
      const clients = await sessionsAtData(h.port, 6);
      await storage.close();
      const replies = await endAll(clients);
      for (const r of replies) expect(r.lines[0]).toMatch(/^451 4\.3\.0 /);
      expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
      for (const c of clients) c.end();
    } finally {
      await h.close();
    }
  });
});
