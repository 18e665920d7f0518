import type { Command } from "commander";
import { loadSettings } from "../../cluster/settings.ts";
import { listMembers } from "../../cluster/members.ts";
import { withDatabase } from "../context.ts";
import { printRows } from "../output.ts";

export function registerMembers(program: Command): void {
  program
    .command("members")
    .description("list cluster members and whether they are alive")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withDatabase({}, async (storage) => {
        const s = await loadSettings(storage.db);
        const now = new Date();
        const rows = await listMembers(storage.db, now, s.member_timeout_seconds);
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
          Boolean(opts.json),
        );
      });
    });
}
