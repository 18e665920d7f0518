import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { sha256Hex, signRequest } from "../../src/backend/channel-auth.ts";
import { BATCH_PATH, encodeBatchHeader } from "../../src/backend/channel-batch-protocol.ts";
import { ensureClusterSecret } from "../../src/cluster/cluster-secret.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { crash, type MemberProcess, spawnMember } from "./processes.ts";

/**
 * Replay protection with real processes: two backends on one database, and one of them
 * killed and started again. The request is captured once and replayed byte for byte.
 */
describe("a replayed delivery-channel request (real processes)", () => {
  let tdb: TestDatabase;
  let b1: MemberProcess;
  let b2: MemberProcess;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    await addDomain(tdb.storage.db, "local.test");
    await addAccount(tdb.storage.db, { address: "replay@local.test", homeMember: "rb1" });
    [b1, b2] = await Promise.all([
      spawnMember({ name: "rb1", role: "backend", submit: "locally", databaseUrl: tdb.url }),
      spawnMember({ name: "rb2", role: "backend", submit: "locally", databaseUrl: tdb.url }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([b1, b2].filter(Boolean).map((m) => crash(m)));
    await tdb.drop();
  });

  it("is refused by the other member and by the same member after a restart", async () => {
    const enc = new TextEncoder();
    const content = enc.encode("From: a@remote.test\r\nSubject: replay\r\n\r\nhello\r\n");
    const envelope = { messageId: 77, sender: "a@remote.test", envid: null, ret: null, authenticated: false, size: content.byteLength, recipients: [{ id: 7, account: "replay@local.test", orcpt: null, notify: null }] };
    const line = encodeBatchHeader([{ envelope, sha256: sha256Hex(content) }]);
    const secret = await ensureClusterSecret(tdb.storage.db, null);
    const headers = await signRequest(secret, { method: "POST", path: BATCH_PATH, digest: sha256Hex(line), now: new Date(), member: "capture", target: "" });
    const body = new Uint8Array([...line, 0x0a, ...content]);
    const send = async (m: MemberProcess) => {
      const res = await fetch(`http://127.0.0.1:${m.httpPort}${BATCH_PATH}`, { method: "POST", headers, body });
      return { status: res.status, text: await res.text() };
    };

    const first = await send(b1);
    expect(first.status).toBe(200);
    expect(first.text).toContain('"stored"');
    expect(await send(b2)).toEqual({ status: 401, text: expect.stringContaining("replayed") as string });

    await crash(b1);
    b1 = await spawnMember({ name: "rb1", role: "backend", submit: "locally", databaseUrl: tdb.url, ports: [b1.smtpPort, b1.httpPort] });
    expect(await send(b1)).toEqual({ status: 401, text: expect.stringContaining("replayed") as string });

    const rows = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM mailbox_messages`);
    expect(num(rows[0].n)).toBe(1);
  }, 120_000);
});
