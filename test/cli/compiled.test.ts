import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { build, freshEntry, project } from "../../bin/compiled.js";

// The compiled copy of the CLI that Node runs: built from a small project of its own here, so
// the test does not depend on (or disturb) the copy of the real sources.
describe("the compiled CLI copy", () => {
  const root = mkdtempSync(join(tmpdir(), "mc-compiled-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const past = new Date(Date.now() - 3_600_000);
  const write = (file: string, text: string, at: Date) => {
    writeFileSync(join(root, file), text);
    utimesSync(join(root, file), at, at);
  };

  it("runs like the sources (each module keeps its own import.meta.url) and goes stale when a source changes", async () => {
    mkdirSync(join(root, "src", "lazy"), { recursive: true });
    write("src/greeting.ts", 'export const greeting = (): string => "hello";\n', past);
    write("src/lazy/where.ts", "export const where = (): string => new URL(\"../../package.json\", import.meta.url).pathname;\n", past);
    write(
      "src/cli.ts",
      'import { greeting } from "./greeting.ts";\nexport async function main(): Promise<string> {\n  const { where } = await import("./lazy/where.ts");\n  return `${greeting()} ${where()}`;\n}\n',
      past,
    );
    const p = project(root);
    expect(freshEntry(p)).toBeNull();
    await build(p);
    const url = freshEntry(p);
    expect(url).toMatch(/\/node_modules\/\.cache\/mailcluster\/build-[\w-]+\/cli\.js$/);
    const first = (await import(url ?? "")) as { main: () => Promise<string> };
    expect(await first.main()).toBe(`hello ${new URL("package.json", pathToFileURL(root + "/")).pathname}`);

    // A source edited after the build: the copy is stale until it is built again.
    write("src/greeting.ts", 'export const greeting = (): string => "bye";\n', new Date(past.getTime() + 1000));
    expect(freshEntry(p)).toBeNull();
    await build(p);
    const again = freshEntry(p);
    expect(again).not.toBeNull();
    expect(again).not.toBe(url);
    const second = (await import(again ?? "")) as { main: () => Promise<string> };
    expect((await second.main()).startsWith("bye ")).toBe(true);
  }, 60_000);

  it("refuses a source that does not compile and keeps the last good copy", async () => {
    const p = project(root);
    const good = freshEntry(p);
    expect(good).not.toBeNull();
    write("src/greeting.ts", "export const greeting = (: string => ;\n", new Date(past.getTime() + 2000));
    await expect(build(p)).rejects.toThrow();
    // Stale (the source changed), so commands run the sources; the old copy is not used.
    expect(freshEntry(p)).toBeNull();
  }, 60_000);
});
