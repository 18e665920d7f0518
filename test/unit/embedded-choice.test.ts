import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { embeddedKind } from "../../adapters/storage/index.ts";

describe("choosing the embedded database", () => {
  const dir = mkdtempSync(join(tmpdir(), "mc-embedded-choice-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("MAILCLUSTER_EMBEDDED takes postgres or pglite, and refuses anything else by name", () => {
    expect(loadConfig({}).embedded).toBeNull();
    expect(loadConfig({ MAILCLUSTER_EMBEDDED: "pglite" }).embedded).toBe("pglite");
    expect(loadConfig({ MAILCLUSTER_EMBEDDED: "postgres" }).embedded).toBe("postgres");
    expect(() => loadConfig({ MAILCLUSTER_EMBEDDED: "sqlite" })).toThrow(ConfigError);
    expect(() => loadConfig({ MAILCLUSTER_EMBEDDED: "sqlite" })).toThrow('MAILCLUSTER_EMBEDDED must be postgres or pglite (got "sqlite")');
  });

  it("defaults to PostgreSQL, but keeps a data dir's existing PGlite database reachable", async () => {
    const empty = join(dir, "empty");
    expect(await embeddedKind({ dataDir: empty, embedded: null })).toBe("postgres");
    const old = join(dir, "old");
    mkdirSync(join(old, "pglite"), { recursive: true });
    writeFileSync(join(old, "pglite", "PG_VERSION"), "17\n");
    expect(await embeddedKind({ dataDir: old, embedded: null })).toBe("pglite");
    expect(await embeddedKind({ dataDir: old, embedded: "postgres" })).toBe("postgres");
    // Once both exist, the PostgreSQL one is the database.
    mkdirSync(join(old, "pg"));
    expect(await embeddedKind({ dataDir: old, embedded: null })).toBe("postgres");
    expect(await embeddedKind({ dataDir: empty, embedded: "pglite" })).toBe("pglite");
  });
});
