import type { Command } from "commander";
import { loadSettings } from "../../cluster/settings.ts";
import { listMembers } from "../../cluster/members.ts";
import type { Executor } from "../../db/db.ts";
import { apiMembers } from "../api-commands.ts";
import { withTarget } from "../context.ts";
import { type Out, printRows } from "../output-admin.ts";

export async function membersList(db: Executor, json: boolean, out?: Out, now = new Date()): Promise<void> {
  const s = await loadSettings(db);
  const rows = await listMembers(db, now, s.member_timeout_seconds);
  printRows(
    rows.map((m) => ({
      name: m.name,
      alive: m.alive,
      roles: m.roles.join(","),
      submit: m.submitMode,
      smtp: m.smtpEndpoint,
      http: m.httpUrl,
      pid: m.pid,
      started: m.startedAt,
      heartbeat_age_s: Math.round((now.getTime() - m.heartbeatAt.getTime()) / 1000),
    })),
    ["name", "alive", "roles", "submit", "smtp", "http", "pid", "started", "heartbeat_age_s"],
    json,
    out,
  );
}

export function registerMembers(program: Command): void {
  program
    .command("members")
    .description("list cluster members and whether they are alive")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? membersList(t.storage.db, Boolean(opts.json)) : apiMembers(t.api, Boolean(opts.json)))));
}
