import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/mailcluster.js", import.meta.url));
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type ChildRuntime = "node" | "deno";

/**
 * How the bin is run: under Node, unless the tests themselves run on Deno (or MAILCLUSTER_TEST_RUNTIME=deno),
 * so that the Deno run of the process-level tests starts Deno members.
 */
function binCommand(runtime?: ChildRuntime): { command: string; args: string[] } {
  const wanted = runtime ?? process.env.MAILCLUSTER_TEST_RUNTIME ?? (onDeno() ? "deno" : "node");
  if (wanted !== "deno") return { command: "node", args: [BIN] };
  return { command: onDeno() ? process.execPath : join(ROOT, "node_modules", ".bin", "deno"), args: ["run", "-A", BIN] };
}

function onDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/**
 * Deno's node:child_process reports the signal kill() sent as the exit signal even when the child
 * handles it and exits 0 (its ChildProcess.kill sets signalCode and "exit" keeps it; Deno 2.9.6).
 * Signalling by pid leaves "exit" with the status the child really ended with, as on Node and Bun.
 */
function reportRealExit<T extends ChildProcess>(child: T): T {
  if (!onDeno()) return child;
  child.kill = (signal?: NodeJS.Signals | number) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    try {
      process.kill(child.pid, signal ?? "SIGTERM");
      return true;
    } catch {
      return false;
    }
  };
  return child;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the mailcluster command to completion (under Node the bin registers tsx itself). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const bin = binCommand();
    const child = reportRealExit(spawn(bin.command, [...bin.args, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "warn", ...env } }));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mailcluster ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a long-running `mailcluster start`; collects its output. `runtime` overrides the default above. */
export function startMember(args: string[], env: Record<string, string | undefined>, runtime?: ChildRuntime): { child: ChildProcess; output: () => string } {
  const bin = binCommand(runtime);
  const child = reportRealExit(spawn(bin.command, [...bin.args, "start", ...args], { cwd: ROOT, env: { ...process.env, ...env } }));
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}
