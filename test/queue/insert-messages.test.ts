import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { queryRows, str } from "../../src/db/rows.ts";
import { readMessageBody } from "../../src/queue/body.ts";
import { insertMessages, type MessageToInsert } from "../../src/queue/insert-messages.ts";
import { openCountingStorage, type CountingStorage } from "../helpers/counting-storage.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;
let counting: CountingStorage;

beforeAll(async () => {
  tdb = await createTestDatabase();
  counting = openCountingStorage(tdb.url, 2);
});
afterAll(async () => {
  await counting?.close();
  await tdb?.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`DELETE FROM messages`);
  counting.statements.length = 0;
});

/** A body of `size` bytes that is different for every message and holds bytes that are not UTF-8 (NUL, 0xff). */
function body(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (seed * 31 + i * 7) % 256;
  return out;
}

function item(i: number, content: Uint8Array): MessageToInsert {
  return {
    input: {
      envelope: { sender: `s${i}@example.org`, recipients: [{ address: `r${i}@example.net` }] },
      content,
      client: { address: "192.0.2.1", tls: i % 2 === 0 },
      submittedBy: "fe",
      processor: i % 3 === 0 ? null : "be",
      now: new Date(),
    },
    firstPart: content,
  };
}

describe("insertMessages", () => {
  it("stores each message of a batch with its own body, byte for byte, including empty bodies", async () => {
    const sizes = [0, 1, 2048, 5, 0, 70_000, 3];
    const items = sizes.map((size, i) => item(i, body(i, size)));
    const results = await insertMessages(tdb.storage.db, items);
    expect(results).toHaveLength(sizes.length);
    for (const [i, r] of results.entries()) {
      const stored = await readMessageBody(tdb.storage.db, r.messageId);
      expect(stored && Buffer.from(stored).equals(Buffer.from(items[i].firstPart))).toBe(true);
      const [row] = await queryRows(tdb.storage.db, sql`SELECT sender, size_bytes, tls, processor FROM messages WHERE id = ${r.messageId}`);
      expect({ sender: str(row.sender), size: Number(row.size_bytes), tls: row.tls, processor: row.processor }).toEqual({
        sender: `s${i}@example.org`,
        size: sizes[i],
        tls: i % 2 === 0,
        processor: i % 3 === 0 ? null : "be",
      });
    }
  });

  it("uses one statement text for every batch size, so a connection prepares it once", async () => {
    for (const n of [2, 3, 7]) await insertMessages(counting.db, Array.from({ length: n }, (_, i) => item(i, body(i, 10))));
    const texts = new Set(counting.statements.filter((q) => /INSERT INTO messages/.test(q)));
    expect(texts.size).toBe(1);
  });
});
