import { existsSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../cluster/processes.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { exited, startMember } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";

// Whatever runs the tests (vitest on Node or Deno, bun test), the member here always runs on Deno:
// the supported way to run mailcluster on Deno, from start to a clean SIGTERM.
const TOKEN = "deno-smoke-token-0123456789abcdef";
// The embedded cases initialise a database first (initdb, or PGlite's WebAssembly): slow on a busy machine.
const EMBEDDED_TIMEOUT_MS = 150_000;

async function api(httpPort: number, path: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${httpPort}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function healthy(httpPort: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 200;
  } catch {
    return false;
  }
}

/** Start on Deno, one message in over SMTP, stored in the mailbox, SIGTERM → exit 0 and deregistered. */
async function oneMessageThrough(env: Record<string, string>): Promise<void> {
  const [smtpPort, httpPort] = await freePorts(2);
  const m = startMember(["--name", "deno-smoke", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)], { LOG_LEVEL: "info", ADMIN_TOKEN: TOKEN, ...env }, "deno");
  try {
    await until(async () => {
      if (m.child.exitCode !== null) throw new Error(`member exited with ${m.child.exitCode}: ${m.output().slice(-2000)}`);
      return (await healthy(httpPort)) && m.output().includes("smtp frontend listening");
    }, `Deno member ready; output: ${m.output().slice(-2000)}`, 90_000, 100);
    // The process really is Deno, not a Node the bin fell back to (Linux: /proc names the executable).
    if (process.platform === "linux" && m.child.pid !== undefined) expect(readlinkSync(`/proc/${m.child.pid}/exe`)).toMatch(/deno$/);

    expect((await api(httpPort, "/domains", { name: "deno.test" })).status).toBe(201);
    expect((await api(httpPort, "/accounts", { address: "alice@deno.test", password: "secret123" })).status).toBe(201);
    const smtp = nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort, secure: false, ignoreTLS: true });
    const sent = await smtp.sendMail({ envelope: { from: "bob@remote.test", to: ["alice@deno.test"] }, raw: "Subject: hello from deno\r\n\r\nbody\r\n" });
    smtp.close();
    expect(sent.response).toMatch(/^250 2\.0\.0 Ok: queued as \d+/);

    let items: Array<{ id: number }> = [];
    await until(async () => {
      const res = await api(httpPort, "/accounts/alice@deno.test/messages");
      items = ((await res.json()) as { items: Array<{ id: number }> }).items;
      return items.length > 0;
    }, "message stored in alice's mailbox", 30_000, 100);
    expect(items).toHaveLength(1);
    const raw = await (await api(httpPort, `/messages/${items[0]?.id}/raw`)).text();
    expect(raw).toContain("Subject: hello from deno");
  } finally {
    m.child.kill("SIGTERM");
  }
  expect(await exited(m.child)).toBe(0);
  expect(m.output()).toContain("member deregistered");
}

describe("mailcluster on Deno", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("on PostgreSQL: starts, stores one message received over SMTP, exits 0 on SIGTERM", async () => {
    await oneMessageThrough({ DATABASE_URL: tdb.url });
  });

  it("on the embedded default, a private PostgreSQL under the data dir: the same, and the server stops with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mailcluster-deno-data-"));
    try {
      await oneMessageThrough({ DATABASE_URL: "", MAILCLUSTER_DATA: dir, MAILCLUSTER_EMBEDDED: "" });
      expect(existsSync(join(dir, "pg", "PG_VERSION"))).toBe(true);
      // PostgreSQL removes its pid file on a clean shutdown: nothing left running.
      expect(existsSync(join(dir, "pg", "postmaster.pid"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, EMBEDDED_TIMEOUT_MS);

  it("on PGlite (MAILCLUSTER_EMBEDDED=pglite): the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mailcluster-deno-data-"));
    try {
      await oneMessageThrough({ DATABASE_URL: "", MAILCLUSTER_DATA: dir, MAILCLUSTER_EMBEDDED: "pglite" });
      expect(existsSync(join(dir, "pglite", "PG_VERSION"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, EMBEDDED_TIMEOUT_MS);
});
