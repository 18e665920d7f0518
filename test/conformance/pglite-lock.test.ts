import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openPglite } from "../../adapters/storage/pglite/index.ts";
import { lockDataDir } from "../../adapters/storage/pglite/lock.ts";

describe("the embedded database belongs to one process", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailcluster-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a second opener is refused with a clear message while the first holds it", () => {
    // Our test process is alive; pretend another live process (pid 1) holds the directory.
    writeFileSync(join(dir, "mailcluster.pid"), "1");
    expect(() => lockDataDir(dir)).toThrow(/in use by process 1.*admin API/);
  });

  it("a lock left by a dead process is taken over, and released on close", async () => {
    writeFileSync(join(dir, "mailcluster.pid"), "999999999");
    const storage = await openPglite({ dataDir: join(dir) });
    expect(() => lockDataDir(dir)).toThrow(/already open in this process/);
    await storage.close();
    const unlock = lockDataDir(dir);
    unlock();
  });
});
