import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import nodemailer from "nodemailer";
import { sql } from "drizzle-orm";
import { memberCredentials, verifyMemberCredentials } from "../../src/cluster/member-credentials.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, startHarness, type Harness } from "./harness.ts";

// Member-to-member hand-offs authenticate with credentials derived from the cluster secret
// (AUTH PLAIN inside STARTTLS), not by the sender's IP address.
let tdb: TestDatabase;
let h: Harness;
let secret: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  h = await startHarness(tdb.storage, { smtp_auth_max_failures: 100 });
  secret = await h.ctx.clusterSecret.get();
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  h.frontend.throttle.succeed("127.0.0.1");
  await clearQueue(tdb.storage);
});

async function handOff(auth: { user: string; pass: string }): Promise<{ code: number; text: string }> {
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: h.port, requireTLS: true, tls: { rejectUnauthorized: false }, auth });
  try {
    const info = await t.sendMail({ envelope: { from: "alice@origin.test", to: ["bob@far.test"] }, raw: "Subject: hand-off\r\n\r\nhi\r\n" });
    return { code: Number(info.response.slice(0, 3)), text: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { code: e.responseCode ?? 0, text: e.response ?? e.message };
  } finally {
    t.close();
  }
}

describe("member credentials", () => {
  it("are bound to the sending member, the receiving member and a five-minute window", () => {
    const now = new Date(Date.UTC(2026, 0, 1));
    const c = memberCredentials(secret, "be-1", "fe-1", now);
    expect(c.user).toBe("member:be-1");
    expect(verifyMemberCredentials(secret, c.user, c.pass, "fe-1", now)).toBe("be-1");
    expect(verifyMemberCredentials(secret, c.user, c.pass, "fe-2", now)).toBeNull();
    expect(verifyMemberCredentials(secret, "member:be-2", c.pass, "fe-1", now)).toBeNull();
    expect(verifyMemberCredentials("another secret entirely", c.user, c.pass, "fe-1", now)).toBeNull();
    expect(verifyMemberCredentials(secret, c.user, c.pass, "fe-1", new Date(now.getTime() + 299_000))).toBe("be-1");
    expect(verifyMemberCredentials(secret, c.user, c.pass, "fe-1", new Date(now.getTime() + 301_000))).toBeNull();
    expect(verifyMemberCredentials(secret, c.user, c.pass.slice(0, -1), "fe-1", now)).toBeNull();
    expect(verifyMemberCredentials(secret, c.user, "", "fe-1", now)).toBeNull();
  });
});

describe("a frontend receiving a hand-off", () => {
  it("relays for a member that authenticates with its credentials, and records who it was", async () => {
    const r = await handOff(memberCredentials(secret, "be-1", "fe-test", h.clock.now()));
    expect(r.code, r.text).toBe(250);
    const rows = await queryRows(tdb.storage.db, sql`SELECT r.address, m.authenticated_user FROM recipients r JOIN messages m ON m.id = r.message_id`);
    expect(rows.map((x) => [str(x.address), str(x.authenticated_user)])).toEqual([["bob@far.test", "member:be-1"]]);
  });

  it("refuses credentials made for another member, with another secret, or too old: 535 5.7.8", async () => {
    for (const auth of [
      memberCredentials(secret, "be-1", "fe-other", h.clock.now()),
      memberCredentials("not the cluster secret at all", "be-1", "fe-test", h.clock.now()),
      memberCredentials(secret, "be-1", "fe-test", new Date(h.clock.now().getTime() - 3600_000)),
    ]) {
      const r = await handOff(auth);
      expect(r.code, r.text).toBe(535);
      expect(r.text).toContain("5.7.8");
    }
    expect((await queryRows(tdb.storage.db, sql`SELECT id FROM messages`)).length).toBe(0);
  });

  it("from the same IP without credentials it is an ordinary client: relaying denied", async () => {
    const t = nodemailer.createTransport({ host: "127.0.0.1", port: h.port, ignoreTLS: true });
    try {
      await expect(t.sendMail({ envelope: { from: "alice@origin.test", to: ["bob@far.test"] }, raw: "Subject: x\r\n\r\nhi\r\n" })).rejects.toMatchObject({ responseCode: 554 });
    } finally {
      t.close();
    }
  });
});
