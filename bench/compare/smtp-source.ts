import { spawn } from "node:child_process";

export interface Load {
  messages: number;
  sessions: number;
  /** Message size in bytes (smtp-source -l). */
  bytes: number;
  from: string;
  to: string;
}

/**
 * Postfix's smtp-source against 127.0.0.1:`port`: `sessions` parallel connections, each sending
 * messages one after another on the same connection (-d). It stops at the first reply that is not
 * the expected positive one, so a zero exit means every message got its 250. Resolves with the
 * wall time in seconds.
 */
export function smtpSource(load: Load, port: number): Promise<number> {
  const args = ["-d", "-s", String(load.sessions), "-m", String(load.messages), "-l", String(load.bytes), "-f", load.from, "-t", load.to, `127.0.0.1:${port}`];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("smtp-source", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve(seconds);
      else reject(new Error(`smtp-source ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}
