import type { Command } from "commander";
import { changeSubmitMode, SUBMIT_MODES } from "../../cluster/submit-mode.ts";
import type { Executor } from "../../db/db.ts";
import { apiMemberMode } from "../api-commands.ts";
import { withTarget } from "../context.ts";

/** Change a member's submit mode and say what changed (JSON with --json, for scripts). */
export async function memberMode(db: Executor, name: string, mode: string, json: boolean, out: (s: string) => void = console.log): Promise<void> {
  const change = await changeSubmitMode(db, name, mode);
  if (json) out(JSON.stringify(change, null, 2));
  else out(`member ${change.name}: submit mode ${change.previous} -> ${change.submitMode} (takes effect with its next heartbeat)`);
}

export function registerMemberMode(program: Command): void {
  const cmd = program.command("member").description("change one cluster member (see `members` for the list)");
  cmd
    .command("mode <name> <mode>")
    .description(`set a member's submit mode at run time: ${SUBMIT_MODES.join(" | ")}`)
    .option("--json", "print JSON")
    .action((name: string, mode: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? memberMode(t.storage.db, name, mode, Boolean(o.json)) : apiMemberMode(t.api, name, mode, Boolean(o.json)))));
  cmd
    .command("set <name>")
    .description("change a member's settings (same as `member mode NAME MODE` for --submit)")
    .requiredOption("--submit <mode>", SUBMIT_MODES.join(" | "))
    .option("--json", "print JSON")
    .action((name: string, o: { submit: string; json?: boolean }) => withTarget((t) => (t.kind === "db" ? memberMode(t.storage.db, name, o.submit, Boolean(o.json)) : apiMemberMode(t.api, name, o.submit, Boolean(o.json)))));
}
