import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseExpiry, suppressionAdd, suppressionExport, suppressionImport, suppressionList, suppressionRemove } from "../../src/cli/commands/suppression.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { runCli } from "../helpers/spawn.ts";

let tdb: TestDatabase;
const NOW = new Date(Date.UTC(2026, 5, 1, 12));

function collector() {
  const lines: string[] = [];
  return { out: (l: string) => lines.push(l), lines, json: () => JSON.parse(lines.join("\n")) as unknown };
}

const count = async () => num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM suppressions`))[0].n);

const run = (args: string[]) => runCli(args, { DATABASE_URL: tdb.url, ADMIN_TOKEN: "" }, 120_000);

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});
beforeEach(async () => {
  await tdb.storage.db.execute(sql`TRUNCATE suppressions`);
});

describe("mailcluster suppression", () => {
  it("add, list (search, --active), remove", async () => {
    const db = tdb.storage.db;
    const c = collector();
    await suppressionAdd(db, "Carol@Example.org", { reason: "complained", expires: "30d", now: NOW, json: true }, c.out);
    expect(c.json()).toMatchObject({ address: "carol@example.org", reason: "complained", source: "manual", createdBy: "cli" });
    await suppressionAdd(db, "dave@example.org", { reason: "old", expires: "2026-06-01T13:00:00Z", now: NOW, json: false }, c.out);
    expect(c.lines.at(-1)).toBe("dave@example.org suppressed until 2026-06-01T13:00:00.000Z");

    const l = collector();
    await suppressionList(db, { search: "carol", limit: 10, offset: 0, active: false, now: NOW, json: true }, l.out);
    expect((l.json() as Array<{ address: string }>).map((r) => r.address)).toEqual(["carol@example.org"]);
    const later = collector();
    await suppressionList(db, { limit: 10, offset: 0, active: true, now: new Date(NOW.getTime() + 2 * 3600_000), json: true }, later.out);
    expect((later.json() as Array<{ address: string }>).map((r) => r.address)).toEqual(["carol@example.org"]);

    const r = collector();
    await suppressionRemove(db, "CAROL@example.org", false, r.out);
    expect(r.lines).toEqual(["carol@example.org removed from the suppression list"]);
    await expect(suppressionRemove(db, "carol@example.org", false, r.out)).rejects.toThrow(/is not on the suppression list/);
    expect(await count()).toBe(1);
  });

  it("refuses a bad address, reason or expiry and writes nothing", async () => {
    const db = tdb.storage.db;
    await expect(suppressionAdd(db, "nobody", { reason: "r", now: NOW, json: false })).rejects.toThrow(/local-part@domain/);
    await expect(suppressionAdd(db, "a@b.test", { reason: " ", now: NOW, json: false })).rejects.toThrow(/reason is empty/);
    await expect(suppressionAdd(db, "a@b.test", { reason: "r", expires: "soon", now: NOW, json: false })).rejects.toThrow(/neither a duration/);
    expect(() => parseExpiry("2020-01-01", NOW)).toThrow(/already past/);
    expect(parseExpiry("12h", NOW)?.getTime()).toBe(NOW.getTime() + 12 * 3600_000);
    expect(await count()).toBe(0);
  });

  it("import is all or nothing and lists every bad line", async () => {
    const db = tdb.storage.db;
    const csv = "address,reason\nok@x.test,r\nbroken,r\nok2@x.test,r\n,r\n";
    await expect(suppressionImport(db, csv, { now: NOW, json: false })).rejects.toThrow(/2 bad line\(s\); nothing was imported:\n {2}line 3: address must be local-part@domain\n {2}line 5: address is empty/);
    expect(await count()).toBe(0);
    const c = collector();
    await suppressionImport(db, "address,reason\nok@x.test,r\nok2@x.test,r\n", { now: NOW, json: true }, c.out);
    expect(c.json()).toEqual({ imported: 2 });
    // In address order: "2" sorts before "@".
    expect((await suppressionExport(db)).split("\r\n")).toEqual([
      "address,reason,expires_at,source,bounce_class,created_at,created_by",
      "ok2@x.test,r,,manual,,2026-06-01T12:00:00.000Z,cli:import",
      "ok@x.test,r,,manual,,2026-06-01T12:00:00.000Z,cli:import",
      "",
    ]);
  });

  it("the real binary: export to a file, import it back, a bad file exits 1", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mc-suppression-"));
    try {
      expect((await run(["suppression", "add", "eve@example.org", "--reason", "bounced twice"])).code).toBe(0);
      const file = join(dir, "list.csv");
      const exported = await run(["suppression", "export", file]);
      expect(exported.code).toBe(0);
      expect(readFileSync(file, "utf8")).toContain("eve@example.org,bounced twice,,manual,");
      await tdb.storage.db.execute(sql`TRUNCATE suppressions`);
      const imported = await run(["suppression", "import", file, "--json"]);
      expect(imported.code).toBe(0);
      expect(JSON.parse(imported.stdout)).toEqual({ imported: 1 });
      writeFileSync(join(dir, "bad.csv"), "address\nnot-an-address\n");
      const bad = await run(["suppression", "import", join(dir, "bad.csv")]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("line 2: address must be local-part@domain");
      expect(await count()).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
