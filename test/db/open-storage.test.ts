import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStorage } from "../../src/cli/adapters.ts";
import { queryRows } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

// The storage chooser the composition root (src/cli/adapters.ts) hands the CLI and `start`.
let tdb: TestDatabase;
const dataDir = mkdtempSync(join(tmpdir(), "mc-open-storage-"));

beforeAll(async () => {
  tdb = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await tdb?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("openStorage", () => {
  it("opens postgres.js on a DATABASE_URL, with the member's or the CLI's application name, and asks for no logger", async () => {
    const noLogger = () => {
      throw new Error("a DATABASE_URL needs no logger");
    };
    for (const [purpose, name] of [["command", "mailcluster cli"], ["member", "mailcluster m1"]] as const) {
      const storage = await openStorage({ databaseUrl: tdb.url, dataDir, memberName: "m1", embedded: null }, noLogger, purpose);
      try {
        expect(storage.name).toBe("postgres-js");
        expect(await queryRows(storage.db, sql`SELECT current_setting('application_name') AS name`)).toEqual([{ name }]);
      } finally {
        await storage.close();
      }
    }
  });
});
