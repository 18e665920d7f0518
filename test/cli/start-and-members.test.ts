import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { freePort } from "../helpers/ports.ts";
import { exited, runCli, startMember } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return res.status === 200;
  } catch {
    return false;
  }
}

describe("the mailcluster command", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("--help lists the commands", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["start", "migrate", "members", "settings"]) expect(r.stdout).toContain(cmd);
  });

  it("refuses a bad flag with a clear message", async () => {
    const r = await runCli(["start", "--role", "mailman"], { DATABASE_URL: tdb.url });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--role must be all, frontend or backend/);
  });

  it("start registers the member; members lists it alive; SIGTERM deregisters it", async () => {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const m = startMember(["--name", "cli-test-1", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)], {
      DATABASE_URL: tdb.url,
      LOG_LEVEL: "info",
    });
    try {
      await until(() => healthy(httpPort), `member healthy on ${httpPort}; output: ${m.output()}`, 60_000, 200);
      const listed = await runCli(["members", "--json"], { DATABASE_URL: tdb.url });
      expect(listed.code).toBe(0);
      const members = JSON.parse(listed.stdout) as Array<{ name: string; alive: boolean }>;
      expect(members.find((x) => x.name === "cli-test-1")?.alive).toBe(true);
      const table = await runCli(["members"], { DATABASE_URL: tdb.url });
      expect(table.stdout).toMatch(/cli-test-1.*true/);
    } finally {
      m.child.kill("SIGTERM");
    }
    expect(await exited(m.child)).toBe(0);
    expect(m.output()).toContain("member deregistered");
    const after = await runCli(["members", "--json"], { DATABASE_URL: tdb.url });
    const left = JSON.parse(after.stdout) as Array<{ name: string }>;
    expect(left.map((x) => x.name)).not.toContain("cli-test-1");
  });

  // The default embedded database (a private PostgreSQL) is tested in embedded-postgres.test.ts.
  it("with MAILCLUSTER_EMBEDDED=pglite it creates a PGlite database, and reopens it on the next start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mailcluster-data-"));
    try {
      const env = { DATABASE_URL: "", MAILCLUSTER_EMBEDDED: "pglite", MAILCLUSTER_DATA: dir, LOG_LEVEL: "info" };
      const first = await runCli(["migrate"], env, 120_000);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/migrations: \d+ applied/);
      expect(first.stdout).toContain("pglite");
      expect(first.stdout + first.stderr).toContain("initialising a new embedded database");
      expect(existsSync(join(dir, "pglite", "PG_VERSION"))).toBe(true);
      const second = await runCli(["migrate"], env, 120_000);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("migrations: 0 applied");
      expect(second.stdout + second.stderr).toContain("embedded database reopened");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
