import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/**
 * Who runs the embedded server: one process at a time starts and stops it, recorded in a file
 * holding "pid purpose". A member owns it for its lifetime; a CLI command run while nothing
 * else does owns it for the length of the command. A file left by a dead process is taken over.
 */
export type Purpose = "member" | "command";

export interface Owner {
  pid: number;
  purpose: Purpose;
}

export function readOwner(path: string): Owner | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const [pidText, purpose] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, purpose: purpose === "command" ? "command" : "member" };
}

/** The live owner other than this process, or null (no file, or its process is gone). */
export function liveOwner(path: string): Owner | null {
  const owner = readOwner(path);
  return owner && owner.pid !== process.pid && isAlive(owner.pid) ? owner : null;
}

/** Takes ownership, or returns false when another live process holds it. */
export function takeOwnership(path: string, purpose: Purpose): boolean {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid} ${purpose}\n`);
      closeSync(fd);
      return true;
    } catch (err) {
      if (!(err instanceof Error) || !("code" in err) || err.code !== "EEXIST") throw err;
      if (liveOwner(path)) return false;
      // Dead owner (or our own pid reused after a container restart): stale.
      rmSync(path, { force: true });
    }
  }
  return false;
}

export function releaseOwnership(path: string): void {
  const owner = readOwner(path);
  if (owner?.pid === process.pid) rmSync(path, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && "code" in err && err.code === "EPERM";
  }
}
