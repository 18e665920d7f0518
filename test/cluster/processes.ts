import type { ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import type { Role, SubmitMode } from "../../src/domain/types.ts";
import { exited, startMember } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";

/** One real `mailcluster start` process of a test cluster. */
export interface MemberProcess {
  name: string;
  role: Role;
  smtpPort: number;
  httpPort: number;
  child: ChildProcess;
  output(): string;
}

export interface SpawnOptions {
  name: string;
  role: Role;
  submit: SubmitMode;
  databaseUrl: string;
  env?: Record<string, string>;
  /** SMTP and HTTP port; found free here when not given. */
  ports?: [number, number];
}

/**
 * `n` distinct ports that were free a moment ago: all listened on at once, so none is handed
 * out twice (members started in parallel must not race for one port).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return servers.map((srv) => {
      const address = srv.address();
      return typeof address === "object" && address ? address.port : 0;
    });
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
  } catch {
    return false;
  }
}

/**
 * Start a member on free ports and wait until it is ready: /health answers (migrated,
 * registered) and, for a frontend, SMTP listens. Ports are found free by the test, never fixed.
 */
export async function spawnMember(o: SpawnOptions): Promise<MemberProcess> {
  const [smtpPort, httpPort] = o.ports ?? (await freePorts(2));
  const args = ["--name", o.name, "--role", o.role, "--submit", o.submit, "--smtp-port", String(smtpPort), "--http-port", String(httpPort)];
  const m = startMember(args, { DATABASE_URL: o.databaseUrl, LOG_LEVEL: "info", ...o.env });
  const proc: MemberProcess = { name: o.name, role: o.role, smtpPort, httpPort, child: m.child, output: m.output };
  try {
    await until(async () => {
      if (m.child.exitCode !== null) throw new Error(`${o.name} exited with ${m.child.exitCode}: ${m.output().slice(-2000)}`);
      // /health answers before the components start: a frontend is ready once it listens.
      return (await healthy(httpPort)) && (o.role !== "frontend" || m.output().includes("smtp frontend listening"));
    }, `${o.name} ready on ${httpPort}`, 60_000, 100);
  } catch (err) {
    m.child.kill("SIGKILL");
    throw err;
  }
  return proc;
}

/** kill -9: no graceful shutdown, no lease released, no deregistration. */
export async function crash(p: MemberProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGKILL");
  await exited(p.child);
}

/** SIGTERM and wait; SIGKILL after `graceMs` so a stuck process cannot hang the test. */
export async function stopGracefully(p: MemberProcess, graceMs = 20_000): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  const code = await exited(p.child);
  clearTimeout(timer);
  return code;
}

/** Parsed pino lines of a process with the given `msg`. */
export function logLines(p: MemberProcess, msg: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of p.output().split("\n")) {
    if (!line.startsWith("{") || !line.includes(msg)) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed && typeof parsed === "object" && "msg" in parsed && parsed.msg === msg) out.push(parsed);
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return out;
}
