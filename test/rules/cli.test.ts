import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { buildProgram } from "../../src/cli.ts";
import { readRulesFile, replaceRules, RulesFileError, showRules } from "../../src/cli/commands/rules.ts";
import { getAccountRules, getDomainRules, getSubmissionRules } from "../../src/rules/store.ts";
import { RuleSetError } from "../../src/rules/validate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

const bin = fileURLToPath(new URL("../../bin/mailcluster.js", import.meta.url));
let tdb: TestDatabase;
let dir: string;

const good = { rules: [{ conditions: [{ field: "from", op: "is", value: "boss@example.org" }], actions: [{ type: "mark", flag: "flagged" }] }] };

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath.includes("bun") ? "node" : process.execPath, [bin, ...args], {
      env: { ...process.env, DATABASE_URL: tdb.url, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), "mc-rules-cli-"));
  await addDomain(tdb.storage.db, "example.com");
  await addAccount(tdb.storage.db, { address: "bob@example.com" });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await tdb.drop();
});

describe("rules CLI", () => {
  it("registers account rules and domain rules under the existing commands, and the rules command", () => {
    const program = buildProgram();
    const sub = (parent: string) => program.commands.find((c) => c.name() === parent)?.commands.map((c) => c.name()) ?? [];
    expect(sub("account")).toContain("rules");
    expect(sub("domain")).toContain("rules");
    expect(sub("rules")).toEqual(["account", "domain", "member", "cluster"]);
  });

  it("shows and replaces account, domain and submission rule sets", async () => {
    const db = tdb.storage.db;
    const lines: string[] = [];
    const out = (l: string) => lines.push(l);
    await replaceRules(db, { kind: "account", address: "Bob@example.com" }, good, false, out);
    expect(lines).toEqual(["account bob@example.com: 1 rule stored"]);
    lines.length = 0;
    await showRules(db, { kind: "account", address: "bob@example.com" }, out);
    expect(JSON.parse(lines.join("\n"))).toEqual(good);
    await replaceRules(db, { kind: "domain", domain: "example.com" }, { rules: [] }, false, out);
    expect(await getDomainRules(db, "example.com")).toEqual({ rules: [] });
    await replaceRules(db, { kind: "submission", scope: "cluster" }, { rules: [{ actions: [{ type: "add_header", name: "X-A", value: "b" }] }] }, true, out);
    expect((await getSubmissionRules(db, "cluster")).rules).toHaveLength(1);
  });

  it("an invalid file is refused with the path of the first error and the old rules stay", async () => {
    const db = tdb.storage.db;
    await replaceRules(db, { kind: "account", address: "bob@example.com" }, good, false, () => {});
    const bad = { rules: [{ actions: [{ type: "redirect", to: ["ok@example.org", "broken"] }] }] };
    await expect(replaceRules(db, { kind: "account", address: "bob@example.com" }, bad, false, () => {})).rejects.toThrow(
      new RuleSetError("rules[0].actions[0].to[1]", 'must be an address (local@domain): "broken"'),
    );
    expect(await getAccountRules(db, "bob@example.com")).toEqual(good);
  });

  it("a file that is missing or not JSON is refused before anything is written", async () => {
    await expect(readRulesFile(join(dir, "missing.json"))).rejects.toBeInstanceOf(RulesFileError);
    await expect(readRulesFile(file("broken.json", "{ rules: "))).rejects.toThrow(/broken\.json is not JSON/);
    async function* stdin() {
      yield '{"rules": []}';
    }
    expect(await readRulesFile("-", stdin())).toEqual({ rules: [] });
  });

  it("the real binary: --set stores, an invalid set exits 1 naming the path and leaves the old set", async () => {
    const ok = await run(["account", "rules", "bob@example.com", "--set", file("good.json", JSON.stringify(good))]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe("account bob@example.com: 1 rule stored");
    const bad = await run(["domain", "rules", "example.com", "--set", file("bad.json", JSON.stringify({ rules: [{ actions: [{ type: "folder", folder: "" }] }] }))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("rules[0].actions[0].folder: must be a non-empty string");
    expect(await getDomainRules(tdb.storage.db, "example.com")).toEqual({ rules: [] });
    const shown = await run(["rules", "account", "bob@example.com"]);
    expect(JSON.parse(shown.stdout)).toEqual(good);
  });
});
