import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "../../test/cluster/processes.ts";
import { BIN, exited, ROOT, runCli } from "../../test/helpers/spawn.ts";
import { until } from "../../test/helpers/until.ts";
import { atInterrupt } from "./interrupt.ts";
import { treeSeconds } from "./proc-cpu.ts";

/**
 * all: one `--role all` process. split: `--role frontend` + `--role backend`, both submitting
 * `locally` (the default: the frontend's workers hand local recipients to the backend over the
 * delivery channel). remote: the same two processes, the frontend submitting `remotely` and the
 * backend processing `locally-for-others` (the backend's workers claim the frontend's messages
 * and store them; no channel hop).
 */
export type Layout = "all" | "split" | "remote";

export const LAYOUT_NAMES: Record<Layout, string> = {
  all: "mailcluster --role all",
  split: "mailcluster frontend + backend",
  remote: "mailcluster frontend (remotely) + backend (locally-for-others)",
};

/** Where a member's profiles go: one folder per layout and role. */
export function profileFolder(layout: Layout, role: StartRole): string {
  return layout === "all" ? role : `${layout}-${role}`;
}
type StartRole = "all" | "frontend" | "backend";

export interface Member {
  name: string;
  role: StartRole;
  smtpPort: number;
  child: ChildProcess;
  output(): string;
  /** Log lines that said in-flight leases were lost (issue 13: there must be none on a lone member). */
  leaseLostWarnings(): number;
}

/** `DATABASE_URL` for database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Set up a database the way an operator would, through the CLI: migrations, the domain, the
 * accounts, and no greeting pause (Postfix's smtpd greets at once too). Each run then gets a
 * fresh copy of it (CREATE DATABASE … TEMPLATE), so no run sees another's rows or bloat.
 */
export async function setUpTemplate(url: string, domain: string, accounts: string[], sessions: number): Promise<void> {
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { DATABASE_URL: url }, 120_000);
    if (r.code !== 0) throw new Error(`mailcluster ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  };
  await cli("migrate");
  await cli("domain", "add", domain);
  for (const a of accounts) await cli("account", "add", a);
  await cli("settings", "set", "smtp_greeting_delay_ms", "0");
  // The load comes from one address: allow all its sessions (Postfix has no such limit by default).
  if (sessions > 50) await cli("settings", "set", "smtp_max_connections_per_ip", String(sessions));
}

export interface Mailcluster {
  /** Where SMTP clients connect: the `all` member, or the frontend. */
  smtpPort: number;
  members: Member[];
  /** CPU seconds of every member process (and anything they started). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Members of one layout, started as `mailcluster start` processes and waited for until they serve. */
export async function startMailcluster(layout: Layout, url: string, profileDir?: string): Promise<Mailcluster> {
  const roles: StartRole[] = layout === "all" ? ["all"] : ["backend", "frontend"];
  const members: Member[] = [];
  try {
    for (const role of roles) members.push(await startMember(layout, role, url, profileDir));
  } catch (err) {
    await Promise.all(members.map((m) => stop(m, 5_000)));
    throw err;
  }
  return {
    smtpPort: members[members.length - 1].smtpPort,
    members,
    cpuSeconds: () => members.reduce((sum, m) => sum + treeSeconds(m.child.pid ?? NaN), 0),
    async stop() {
      const codes = await Promise.all(members.map((m) => stop(m, 30_000)));
      codes.forEach((code, i) => {
        if (code !== 0) console.error(`member ${members[i].name} exited ${code}: ${members[i].output().slice(-2000)}`);
      });
      const lost = members.reduce((n, m) => n + m.leaseLostWarnings(), 0);
      console.log(`lease-lost warnings in the member logs: ${lost}`);
    },
  };
}

function submitFlags(layout: Layout, role: StartRole): string[] {
  if (layout !== "remote") return [];
  return ["--submit", role === "frontend" ? "remotely" : "locally-for-others"];
}

async function startMember(layout: Layout, role: StartRole, url: string, profileDir?: string): Promise<Member> {
  const [smtpPort, httpPort] = await freePorts(2);
  const name = `bench-${role}`;
  const nodeArgs: string[] = [];
  if (profileDir) {
    const dir = join(profileDir, profileFolder(layout, role));
    mkdirSync(dir, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const args = [...nodeArgs, BIN, "start", "--name", name, "--role", role, "--smtp-port", String(smtpPort), "--http-port", String(httpPort), ...submitFlags(layout, role)];
  const child = spawn("node", args, { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } });
  let out = "";
  let leaseLost = 0;
  // Only the tail is kept: it is printed if the member fails.
  const keep = (d: Buffer) => {
    const text = d.toString();
    leaseLost += text.split("leases lost while in flight").length - 1;
    out = (out + text).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const member: Member = { name, role, smtpPort, child, output: () => out, leaseLostWarnings: () => leaseLost };
  const forget = atInterrupt(() => child.kill("SIGKILL"));
  child.once("exit", forget);
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${out.slice(-2000)}`);
        const healthy = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.status === 200, () => false);
        return healthy && (role === "backend" || out.includes("smtp frontend listening"));
      },
      `${name} serving`,
      60_000,
      100,
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return member;
}

/** SIGTERM (graceful: a --cpu-prof profile is written on that exit) and wait; SIGKILL after `graceMs`. */
async function stop(m: Member, graceMs: number): Promise<number | null> {
  if (m.child.exitCode !== null || m.child.signalCode !== null) return m.child.exitCode;
  m.child.kill("SIGTERM");
  const timer = setTimeout(() => m.child.kill("SIGKILL"), graceMs);
  const code = await exited(m.child);
  clearTimeout(timer);
  return code;
}
