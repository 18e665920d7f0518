import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { clearQueue, queueCounts, queuedRecipients, startHarness, type Harness } from "./harness.ts";

// swaks is a Debian package (CI installs it). Missing → these tests fail loudly rather than skip.
const SWAKS = ["/usr/bin/swaks", "/usr/local/bin/swaks"].find((p) => existsSync(p)) ?? null;
if (!SWAKS) console.error("\n*** swaks is not installed: test/smtp/swaks.test.ts FAILS. Install it: apt-get install -y swaks ***\n");

let tdb: TestDatabase;
let h: Harness;

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "local.test");
  await addAccount(tdb.storage.db, { address: "alice@local.test", password: "alice-secret" });
  await addAccount(tdb.storage.db, { address: "bob@local.test" });
  h = await startHarness(tdb.storage, {}, { submissionPort: 0 });
});

afterAll(async () => {
  await h?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  await clearQueue(tdb.storage);
});

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  if (!SWAKS) throw new Error("swaks is not installed (apt-get install -y swaks)");
  return new Promise((resolve) => {
    execFile(SWAKS, ["--server", "127.0.0.1", "--timeout", "20", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err && typeof (err as { code?: unknown }).code === "number" ? Number((err as { code?: unknown }).code) : err ? -1 : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

describe("swaks", () => {
  it("STARTTLS + AUTH PLAIN on the submission port, relaying to a remote domain", async () => {
    const r = await swaks(["--port", String(h.frontend.ports.submission), "--tls", "--auth", "PLAIN", "--auth-user", "alice@local.test", "--auth-password", "alice-secret", "--from", "alice@local.test", "--to", "friend@elsewhere.test"]);
    expect(r.out).toMatch(/<- +220 .*Ready to start TLS/);
    expect(r.out).toMatch(/<~ +235 /);
    expect(r.out).toMatch(/<~ +250 2\.0\.0 Ok: queued as \d+/);
    expect(r.code).toBe(0);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 1, recipients: 1, bodies: 1 });
  });

  it("STARTTLS + AUTH LOGIN with a wrong password → 535 5.7.8, nothing enqueued", async () => {
    const r = await swaks(["--port", String(h.port), "--tls", "--auth", "LOGIN", "--auth-user", "alice@local.test", "--auth-password", "wrong", "--from", "alice@local.test", "--to", "friend@elsewhere.test"]);
    expect(r.out).toMatch(/<~\* +535 5\.7\.8 /);
    expect(r.code).not.toBe(0);
    expect(await queueCounts(tdb.storage)).toEqual({ messages: 0, recipients: 0, bodies: 0 });
    h.frontend.throttle.succeed("127.0.0.1");
  });

  it("PIPELINING: MAIL, several RCPTs and DATA in one batch; the refused recipient stays out", async () => {
    const r = await swaks(["--port", String(h.port), "--pipeline", "--from", "s@elsewhere.test", "--to", "alice@local.test,nobody@local.test,bob@local.test"]);
    expect(r.out).toMatch(/550 5\.1\.1 no such user here: <nobody@local\.test>/);
    const m = /250 2\.0\.0 Ok: queued as (\d+)/.exec(r.out);
    expect(m).not.toBeNull();
    expect((await queuedRecipients(tdb.storage, Number(m?.[1]))).map((x) => x.address)).toEqual(["alice@local.test", "bob@local.test"]);
  });
});
