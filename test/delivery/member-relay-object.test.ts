import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemberRelay } from "../../src/delivery/remote.ts";
import { testAppContext } from "../helpers/app-context.ts";
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

/** The member's relay as an object of its own (Member builds one): no state shared through the context. */
describe("MemberRelay", () => {
  it("opens nothing and writes nothing before its first use; flush and close are then no-ops", async () => {
    const relay = new MemberRelay(testAppContext(counting));
    counting.statements.length = 0;
    await relay.flushTlsReports();
    await relay.close();
    expect(counting.statements).toEqual([]);
  });

  it("makes one relay on first use and keeps it; a new one after close; two objects on one context do not share", async () => {
    const ctx = testAppContext(counting);
    const a = new MemberRelay(ctx);
    const b = new MemberRelay(ctx);
    const first = a.get();
    expect(a.get()).toBe(first);
    expect(b.get()).not.toBe(first);
    await a.close();
    const again = a.get();
    expect(again).not.toBe(first);
    await a.close();
    await b.close();
  });
});
