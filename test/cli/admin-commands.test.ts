import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "../../src/accounts/password.ts";
import { accountAdd, accountList, accountMessages, parseQuota, readPassword } from "../../src/cli/commands/account.ts";
import { aliasAdd, aliasList, aliasRemove } from "../../src/cli/commands/alias.ts";
import { domainAdd, domainList, domainRemove } from "../../src/cli/commands/domain.ts";
import { queueAction, queueList, queueShow, queueTarget } from "../../src/cli/commands/queue.ts";
import { dbQueue } from "../../src/cli/queue-source.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { resolveAdminToken } from "../../src/http/admin/token.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

let tdb: TestDatabase;
const bin = fileURLToPath(new URL("../../bin/mailcluster.js", import.meta.url));

function collector(): { out: (l: string) => void; lines: string[]; json: () => unknown } {
  const lines: string[] = [];
  return { out: (l) => lines.push(l), lines, json: (): unknown => JSON.parse(lines.join("\n")) };
}

async function* stdinOf(text: string): AsyncIterable<string> {
  yield text;
}

/** The real bin, as an operator runs it (slow: spawned twice). */
function run(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath.includes("bun") ? "node" : process.execPath, [bin, ...args], {
      env: { ...process.env, DATABASE_URL: tdb.url, LOG_LEVEL: "warn", ADMIN_TOKEN: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

describe("CLI command functions", () => {
  it("domain, account, alias: add, list (table and JSON), remove", async () => {
    const db = tdb.storage.db;
    const c = collector();
    await domainAdd(db, "Cli.Test", false, c.out);
    expect(c.lines).toEqual(["domain cli.test added"]);
    const list = collector();
    await domainList(db, true, list.out);
    expect(list.json()).toMatchObject([{ name: "cli.test" }]);

    await accountAdd(db, "ann@cli.test", { quota: "2048", home: "b1" }, "pw-1", collector().out);
    const [row] = await queryRows(db, sql`SELECT password_hash FROM accounts WHERE address = 'ann@cli.test'`);
    expect(await verifyPassword("pw-1", str(row.password_hash))).toBe(true);
    const table = collector();
    await accountList(db, undefined, false, table.out);
    expect(table.lines.join("\n")).toMatch(/ann@cli\.test.*2048.*b1/);
    const msgs = collector();
    await accountMessages(db, "ann@cli.test", true, msgs.out);
    expect(msgs.json()).toEqual([]);

    await aliasAdd(db, "all@cli.test", ["ann@cli.test", "x@remote.test"], false, collector().out);
    const aliases = collector();
    await aliasList(db, true, aliases.out);
    expect(aliases.json()).toMatchObject([{ address: "all@cli.test", targets: "ann@cli.test, x@remote.test" }]);
    await aliasRemove(db, "all@cli.test", false, collector().out);
    await expect(aliasRemove(db, "all@cli.test", false, collector().out)).rejects.toThrow(/no alias/);
    await expect(domainRemove(db, "nope.test", false, collector().out)).rejects.toThrow(/no domain/);
  });

  it("refuses bad input precisely", async () => {
    expect(() => parseQuota("10M")).toThrow(/whole number of bytes/);
    expect(parseQuota(undefined)).toBeNull();
    expect(parseQuota(" 512 ")).toBe(512);
    await expect(readPassword({ password: "a", passwordStdin: true })).rejects.toThrow(/not both/);
    await expect(readPassword({ passwordStdin: true }, stdinOf(""))).rejects.toThrow(/no password/);
    await expect(readPassword({ passwordStdin: true }, stdinOf("a\nb\n"))).rejects.toThrow(/one line/);
    expect(await readPassword({ passwordStdin: true }, stdinOf("s3cret\n"))).toBe("s3cret");
    expect(await readPassword({})).toBeNull();
    expect(() => queueTarget(undefined, {})).toThrow(/give a queue id, --domain DOMAIN or --all/);
    expect(() => queueTarget("5", { domain: "x.test" })).toThrow(/not several/);
    expect(() => queueTarget("5x", {})).toThrow(/invalid queue id/);
    await expect(accountAdd(tdb.storage.db, "bad@cli.test", { quota: "-1" }, null, collector().out)).rejects.toThrow(/quota/);
    expect((await queryRows(tdb.storage.db, sql`SELECT 1 FROM accounts WHERE address = 'bad@cli.test'`)).length).toBe(0);
  });

  it("queue list, show and actions", async () => {
    const db = tdb.storage.db;
    const q = dbQueue(db);
    const { messageId } = await submitMessage(db, {
      envelope: { sender: "s@origin.test", recipients: [{ address: "r@dest.test" }] },
      content: new TextEncoder().encode("Subject: q\r\n\r\nq\r\n"),
      submittedBy: "t",
      processor: null,
      now: new Date(),
    });
    const l = collector();
    await queueList(q, { json: true }, l.out);
    expect(l.json()).toMatchObject([{ id: messageId, recipient: "r@dest.test", state: "queued" }]);
    await expect(queueList(q, { state: "lost" }, collector().out)).rejects.toThrow(/--state must be one of/);
    const h = collector();
    await queueAction(q, "hold", { domain: "dest.test" }, false, h.out);
    expect(h.lines).toEqual(["hold domain dest.test: 1 recipient(s) of 1 message(s)"]);
    await queueAction(q, "bounce", { messageId }, false, collector().out);
    const s = collector();
    await queueShow(q, String(messageId), false, s.out);
    const shown = s.lines.join("\n");
    expect(shown).toContain("r@dest.test");
    expect(shown).toContain("bounced by administrator");
    expect(shown).toContain("admin:cli");
    await expect(queueShow(q, "999999", false, collector().out)).rejects.toThrow(/no queue message/);
  });
});

describe("the mailcluster bin", () => {
  it("adds an account with --password-stdin", async () => {
    await domainAdd(tdb.storage.db, "bin.test", false, collector().out);
    const a = await run(["account", "add", "bo@bin.test", "--password-stdin", "--quota", "777", "--json"], "from-stdin\n");
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual({ added: "bo@bin.test", quota: 777, home: null, password: true });
    const [row] = await queryRows(tdb.storage.db, sql`SELECT password_hash FROM accounts WHERE address = 'bo@bin.test'`);
    expect(await verifyPassword("from-stdin", str(row.password_hash))).toBe(true);
  });

  it("queue: the compact listing, and a refusal that exits 1 and changes nothing", async () => {
    const { messageId } = await submitMessage(tdb.storage.db, {
      envelope: { sender: "s@bin.test", recipients: [{ address: "r@far.test" }] },
      content: new TextEncoder().encode("Subject: bin\r\n\r\nbin\r\n"),
      submittedBy: "t",
      processor: null,
      now: new Date(),
    });
    const listed = await run(["queue", "list", "--domain", "far.test"]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split("\n");
    expect(lines[0]).toBe("-Queue ID- --Size-- ----Arrival Time----  -Sender/Recipient-------");
    expect(lines[1]).toMatch(new RegExp(String.raw`^${messageId}\s+\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  s@bin\.test$`));
    expect(lines[2]).toBe(" ".repeat(42) + "r@far.test");
    const refused = await run(["queue", "bounce", "--all"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("mailcluster: queue bounce --all fails every pending recipient and sends DSNs; add --yes to confirm\n");
    const [row] = await queryRows(tdb.storage.db, sql`SELECT state FROM recipients WHERE message_id = ${messageId}`);
    expect(row.state).toBe("queued");
  });

  it("admin-token prints the cluster's stored token, the one members will use", async () => {
    const printed = await run(["admin-token", "--json"]);
    expect(printed.code).toBe(0);
    const { token, source } = JSON.parse(printed.stdout) as { token: string; source: string };
    expect(source).toBe("generated");
    expect(await resolveAdminToken(tdb.storage.db, null, silentLogger)).toEqual({ token, source: "stored" });
  });
});
