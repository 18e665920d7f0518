import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { num, queryRows } from "../../src/db/rows.ts";
import { SubmitError, submitMessage } from "../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

async function counts(tdb: TestDatabase) {
  const [row] = await queryRows(
    tdb.storage.db,
    sql`SELECT (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM message_bodies)::int AS bodies, (SELECT count(*) FROM recipients)::int AS recipients`,
  );
  return { messages: num(row.messages), bodies: num(row.bodies), recipients: num(row.recipients) };
}

describe("submit is atomic", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`DROP TRIGGER IF EXISTS fail_recipients ON recipients`);
  });

  const input = (recipients: string[]) => ({
    envelope: { sender: "s@example.org", recipients: recipients.map((address) => ({ address })) },
    content: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
    submittedBy: "t",
    processor: null,
    now: new Date(),
  });

  it("a failure after the message and body inserts leaves nothing behind", async () => {
    // A real database error between the inserts: the recipients insert fails.
    await tdb.storage.db.execute(sql.raw(`
      CREATE OR REPLACE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
      CREATE TRIGGER fail_recipients BEFORE INSERT ON recipients FOR EACH ROW EXECUTE FUNCTION fail_insert();`));
    await expect(submitMessage(tdb.storage.db, input(["a@example.net", "b@example.net"]))).rejects.toThrow();
    expect(await counts(tdb)).toEqual({ messages: 0, bodies: 0, recipients: 0 });
  });

  it("bad envelopes are refused before anything is written", async () => {
    await expect(submitMessage(tdb.storage.db, input([]))).rejects.toBeInstanceOf(SubmitError);
    await expect(submitMessage(tdb.storage.db, input(["no-domain"]))).rejects.toThrow(/bad recipient/);
    await expect(submitMessage(tdb.storage.db, input(["ok@example.net", `${"x".repeat(600)}@example.net`]))).rejects.toThrow(/bad recipient/);
    expect(await counts(tdb)).toEqual({ messages: 0, bodies: 0, recipients: 0 });
  });

  it("and when nothing fails, all of it is there", async () => {
    const r = await submitMessage(tdb.storage.db, input(["a@example.net", "b@example.net"]));
    expect(r.recipientIds).toHaveLength(2);
    expect(await counts(tdb)).toEqual({ messages: 1, bodies: 1, recipients: 2 });
  });
});
