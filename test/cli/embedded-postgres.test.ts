import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openEmbeddedPostgres, serverPaths } from "../../adapters/storage/embedded-postgres/index.ts";
import { isAlive } from "../../adapters/storage/embedded-postgres/owner.ts";
import { choosePort, startServer } from "../../adapters/storage/embedded-postgres/server.ts";
import { migrate } from "../../src/db/migrate.ts";
import { queryRows } from "../../src/db/rows.ts";
import { freePort } from "../helpers/ports.ts";
import { exited, runCli, startMember } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";

// The zero-set-up default: a private PostgreSQL under the data dir. These start real servers,
// so there are few of them; PGlite keeps the fast unit tests.
const embedded = { DATABASE_URL: "", MAILCLUSTER_EMBEDDED: "" };

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
  } catch {
    return false;
  }
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(serverPaths(dataDir).pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
}

describe("the embedded PostgreSQL", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "mc-embedded-pg-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("is created on first open, keeps its data when reopened, and recovers from a stale postmaster.pid", async () => {
    const dataDir = tempDir();
    const paths = serverPaths(dataDir);
    const first = await openEmbeddedPostgres({ dataDir, purpose: "member" });
    await migrate(first.db);
    await first.db.execute(sql`INSERT INTO domains (name) VALUES ('kept.test')`);
    // Secrets are private; the URL reaches the server while it runs.
    expect(statSync(paths.password).mode & 0o777).toBe(0o600);
    expect(statSync(paths.url).mode & 0o777).toBe(0o600);
    expect(readFileSync(paths.url, "utf8")).toMatch(/^postgres:\/\/postgres:[\w-]+@127\.0\.0\.1:\d+\/postgres\n$/);
    const pid = postmasterPid(dataDir);
    await first.close();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(paths.url)).toBe(false);
    expect(existsSync(paths.owner)).toBe(false);

    // A pid file whose process is gone (or that another process's pid reuses) must not block the start.
    writeFileSync(join(paths.pgdata, "postmaster.pid"), `${process.pid}\n${paths.pgdata}\n0\n5432\n\n127.0.0.1\n0 0\nready\n`);
    const again = await openEmbeddedPostgres({ dataDir, purpose: "member" });
    try {
      const rows = await queryRows(again.db, sql`SELECT name FROM domains`);
      expect(rows.map((r) => r.name)).toEqual(["kept.test"]);
      expect(again.name).toBe("embedded-postgres");
    } finally {
      await again.close();
    }

    // The owner killed but its PostgreSQL still running: the next owner takes that server over and stops it on close.
    const orphan = await startServer(paths, await choosePort(paths));
    const adopting = await openEmbeddedPostgres({ dataDir, purpose: "member" });
    expect(postmasterPid(dataDir)).toBe(orphan.pid);
    expect(await queryRows(adopting.db, sql`SELECT name FROM domains`)).toEqual([{ name: "kept.test" }]);
    await adopting.close();
    expect(isAlive(orphan.pid)).toBe(false);
  }, 120_000);

  it("serves the CLI while a member runs, refuses a second member, and restarts after kill -9 of the member and PostgreSQL", async () => {
    const dataDir = tempDir();
    const env = { ...embedded, MAILCLUSTER_DATA: dataDir };
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const args = ["--name", "embedded-1", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)];
    const m = startMember(args, { ...env, LOG_LEVEL: "info" });
    try {
      await until(() => healthy(httpPort), `member healthy; output: ${m.output()}`, 90_000, 100);
      expect(m.output()).toMatch(/"ms":\d+,"msg":"embedded PostgreSQL initialised"/);
      const add = await runCli(["domain", "add", "live.test"], env);
      expect(add.stderr).toBe("");
      expect(add.code).toBe(0);
      const queue = await runCli(["queue", "list", "--json"], env);
      expect(queue.code).toBe(0);
      expect(JSON.parse(queue.stdout)).toEqual([]);
      // On the embedded PostgreSQL the CLI reads the database itself, never the member's API.
      expect(existsSync(join(dataDir, "admin-api.json"))).toBe(false);
      expect((await runCli(["queue", "list"], env)).stdout.trim()).toBe("Mail queue is empty");
      expect((await runCli(["settings", "set", "max_recipients", "50"], env)).code).toBe(0);
      const changed = await runCli(["settings", "--changed", "--json"], env);
      expect(JSON.parse(changed.stdout)).toEqual([expect.objectContaining({ key: "max_recipients", value: "50", default: "100" })]);
      const refused = await runCli(["queue", "delete", "--all"], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("add --yes to confirm");
      const token = await runCli(["admin-token"], env);
      expect(token.code).toBe(0);
      const api = await fetch(`http://127.0.0.1:${httpPort}/api/v1/domains`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
      expect(api.status).toBe(200);
      expect(JSON.stringify(await api.json())).toContain("live.test");
      const url = await runCli(["database-url"], env);
      expect(url.stdout.trim()).toBe(readFileSync(serverPaths(dataDir).url, "utf8").trim());
      const second = await runCli(["start", "--smtp-port", String(await freePort()), "--http-port", String(await freePort())], env);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/run by another member \(process \d+\).*DATABASE_URL=/);
    } finally {
      const pg = postmasterPid(dataDir);
      m.child.kill("SIGKILL");
      process.kill(pg, "SIGKILL");
      await exited(m.child);
    }
    // Both gone, their files left behind: the next start recovers by itself.
    const again = startMember(args, { ...env, LOG_LEVEL: "info" });
    try {
      await until(() => healthy(httpPort), `member healthy again; output: ${again.output()}`, 90_000, 100);
      const listed = await runCli(["domain", "list", "--json"], env);
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: "live.test" })]);
    } finally {
      again.child.kill("SIGTERM");
    }
    expect(await exited(again.child)).toBe(0);
    expect(again.output()).toContain("embedded PostgreSQL stopped");
    expect(existsSync(join(serverPaths(dataDir).pgdata, "postmaster.pid"))).toBe(false);
    // Nothing runs now: a command starts the server for itself and stops it again.
    const alone = await runCli(["domain", "list", "--json"], env);
    expect(alone.code).toBe(0);
    expect(JSON.parse(alone.stdout)).toHaveLength(1);
    expect(existsSync(join(serverPaths(dataDir).pgdata, "postmaster.pid"))).toBe(false);
  }, 240_000);
});
