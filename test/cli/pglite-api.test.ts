import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports.ts";
import { exited, runCli, startMember } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
  } catch {
    return false;
  }
}

// PGlite is one process's database: while a member holds it, the CLI works through that
// member's admin API, found in the data dir, and prints what it prints on the database.
describe("the CLI while a member runs on PGlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "mc-cli-pglite-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists, shows, flushes and refuses through the member's admin API; opens the database again once it stopped", async () => {
    const env = { DATABASE_URL: "", MAILCLUSTER_EMBEDDED: "pglite", MAILCLUSTER_DATA: dir, ADMIN_TOKEN: "" };
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    // Frontend only: nothing delivers, so what it accepts stays in the queue for the CLI to see.
    const m = startMember(["--name", "lite-1", "--role", "frontend", "--smtp-port", String(smtpPort), "--http-port", String(httpPort)], { ...env, LOG_LEVEL: "info" });
    try {
      await until(() => healthy(httpPort), `member healthy; output: ${m.output()}`, 120_000, 100);
      const address = JSON.parse(readFileSync(join(dir, "admin-api.json"), "utf8")) as { url: string; pid: number };
      expect(address).toEqual({ url: `http://127.0.0.1:${httpPort}/api/v1`, pid: expect.any(Number) as number });

      const add = await runCli(["domain", "add", "lite.test", "--json"], env);
      expect(add.stderr).toBe("");
      expect(JSON.parse(add.stdout)).toEqual({ added: "lite.test" });
      expect((await runCli(["account", "add", "u@lite.test", "--password", "pw-123456"], env)).code).toBe(0);
      const t = nodemailer.createTransport({ host: "127.0.0.1", port: smtpPort, ignoreTLS: true });
      await t.sendMail({ envelope: { from: "a@origin.test", to: ["u@lite.test"] }, raw: "Subject: through the API\r\n\r\nhello\r\n" });
      t.close();

      const compact = await runCli(["queue", "list"], env);
      expect(compact.code).toBe(0);
      const lines = compact.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe("-Queue ID- --Size-- ----Arrival Time----  -Sender/Recipient-------");
      expect(lines[1]).toMatch(/^(\d+)\s+\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  a@origin\.test$/);
      // A frontend alone tries once and defers: the recipient's last reply, when there is one, comes first.
      expect(lines.slice(2, -2).map((l) => l.trim())).toEqual(expect.arrayContaining(["u@lite.test"]));
      for (const l of lines.slice(2, -2).filter((x) => x.trim().startsWith("("))) expect(l.trim()).toMatch(/^\(451 4\.4\.1 .+\)$/);
      expect(lines.at(-1)).toBe("-- 1 Kbytes in 1 Request.");
      const id = Number(/^(\d+)/.exec(lines[1])?.[1]);

      const json = await runCli(["queue", "list", "--json"], env);
      const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
      expect(rows.map((r) => Object.keys(r))).toEqual([["id", "recipient", "sender", "state", "attempts", "queued", "next_attempt", "locked_by", "last_reply"]]);
      expect(rows[0]).toMatchObject({ id, recipient: "u@lite.test", sender: "a@origin.test", state: "queued" });

      const content = await runCli(["queue", "show", String(id), "--content"], env);
      expect(content.stdout).toMatch(/Subject: through the API\r\n\r\nhello\r\n$/);
      const shown = await runCli(["queue", "show", String(id), "--json"], env);
      expect(JSON.parse(shown.stdout)).toMatchObject({ message: { id, sender: "a@origin.test" }, recipients: [{ address: "u@lite.test", state: "queued" }] });

      // Refusals: a precise message, exit code 1, and the queue unchanged.
      const refused = await runCli(["queue", "delete", "--all"], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("queue delete --all removes every pending recipient without notice; add --yes to confirm");
      const star = await runCli(["queue", "hold", "--domain", "*"], env);
      expect(star.code).toBe(1);
      expect(star.stderr).toContain('--domain "*" is not a domain: use --all');
      const unknown = await runCli(["queue", "show", "999999"], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain("no queue message 999999");
      const badSetting = await runCli(["settings", "set", "retry_initial_seconds", "\"soon\""], env);
      expect(badSetting.code).toBe(1);
      expect(badSetting.stderr).toMatch(/takes a number/);
      expect(JSON.parse((await runCli(["queue", "list", "--json"], env)).stdout)).toHaveLength(1);

      expect((await runCli(["queue", "flush"], env)).stdout.trim()).toBe("flush: 1 recipient(s) of 1 message(s) due now");
      expect((await runCli(["settings", "set", "retry_jitter", "0.3"], env)).stdout.trim()).toBe("retry_jitter = 0.3");
      const changed = JSON.parse((await runCli(["settings", "--changed", "--json"], env)).stdout) as Array<{ key: string; value: string }>;
      expect(changed).toEqual([expect.objectContaining({ key: "retry_jitter", value: "0.3", default: "0.1" })]);
      const members = JSON.parse((await runCli(["members", "--json"], env)).stdout) as Array<{ name: string; alive: boolean }>;
      expect(members).toEqual([expect.objectContaining({ name: "lite-1", alive: true, roles: "frontend" })]);
      const held = await runCli(["queue", "hold", "--all", "--json"], env);
      expect(JSON.parse(held.stdout)).toEqual({ action: "hold", all: true, recipients: 1, messages: 1 });
    } finally {
      m.child.kill("SIGTERM");
    }
    expect(await exited(m.child)).toBe(0);
    expect(existsSync(join(dir, "admin-api.json"))).toBe(false);
    // Nobody holds the database now: the CLI opens it itself and sees the same state.
    const after = await runCli(["queue", "list", "--json"], env, 120_000);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual([expect.objectContaining({ recipient: "u@lite.test", state: "held" })]);
  }, 300_000);
});

