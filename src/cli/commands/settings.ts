import type { Command } from "commander";
import { DEFAULT_SETTINGS, loadSettings, resetSetting, setSetting } from "../../cluster/settings.ts";
import { withDatabase } from "../context.ts";
import { printRows } from "../output.ts";

export function registerSettings(program: Command): void {
  const cmd = program.command("settings").description("cluster-wide settings (stored in the database)");
  cmd
    .command("list", { isDefault: true })
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withDatabase({}, async (storage) => {
        const s = await loadSettings(storage.db);
        const rows = Object.entries(s).map(([key, value]) => ({
          key,
          value: String(value),
          default: String(DEFAULT_SETTINGS[key as keyof typeof DEFAULT_SETTINGS]),
        }));
        printRows(rows, ["key", "value", "default"], Boolean(opts.json));
      });
    });
  cmd
    .command("set <key> <value>")
    .description("set a setting; the value is JSON (numbers, true/false, \"strings\")")
    .action(async (key: string, raw: string) => {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
      await withDatabase({}, async (storage) => {
        await setSetting(storage.db, key, value);
        console.log(`${key} = ${JSON.stringify(value)}`);
      });
    });
  cmd
    .command("reset <key>")
    .description("back to the default")
    .action(async (key: string) => {
      await withDatabase({}, async (storage) => {
        await resetSetting(storage.db, key);
        console.log(`${key} reset to ${JSON.stringify(DEFAULT_SETTINGS[key as keyof typeof DEFAULT_SETTINGS])}`);
      });
    });
}
