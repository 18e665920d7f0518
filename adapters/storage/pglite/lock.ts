import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import { EmbeddedDatabaseBusy } from "../../../src/db/storage.ts";
import { isProcessAlive } from "../../../src/util/process-alive.ts";

// Directories this process holds: our own pid in a lock file is stale (a container restarted
// with the same pid) unless this very process took it.
const held = new Set<string>();

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt
 * it. A pid file in the data dir makes the second opener fail with a clear message instead.
 * A lock left by a process that no longer exists is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, "mailcluster.pid");
  if (held.has(path)) throw new EmbeddedDatabaseBusy(`the embedded database in ${dataDir} is already open in this process`);
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(path);
      return () => {
        held.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if (!(err instanceof Error) || !("code" in err) || err.code !== "EEXIST") throw err;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        throw new EmbeddedDatabaseBusy(
          `the embedded PGlite database in ${dataDir} is in use by process ${pid} (a running "mailcluster start"?) and PGlite serves one process. ` +
            `Use that member's admin API or WebAdmin (its HTTP port, default 8025; token in ${join(dirname(dataDir), "admin-token")}), stop it first, ` +
            `or use the embedded PostgreSQL (MAILCLUSTER_EMBEDDED unset) or DATABASE_URL, with which the CLI works while members run.`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new EmbeddedDatabaseBusy(`could not lock ${dataDir}`);
}
