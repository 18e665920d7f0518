import type { Command } from "commander";
import { DEFAULT_SETTINGS, isSettingKey, loadSettings, resetSetting, SettingError, setSetting } from "../../cluster/settings.ts";
import type { Executor } from "../../db/db.ts";
import { withTarget, type Target } from "../context.ts";
import { obj } from "../json-fields.ts";
import { type Out, printRows } from "../output-admin.ts";
import { settingDescriptions, wrap } from "../setting-descriptions.ts";

type Value = string | number | boolean;

/** Settings as the CLI reads and changes them: in the database, or through a running member's API. */
export interface SettingsSource {
  load(): Promise<Record<string, Value>>;
  set(key: string, value: Value): Promise<void>;
  reset(key: string): Promise<void>;
}

export function dbSettings(db: Executor): SettingsSource {
  return {
    load: async () => ({ ...(await loadSettings(db)) }),
    set: (key, value) => setSetting(db, key, value),
    reset: (key) => resetSetting(db, key),
  };
}

function settingsSource(t: Target): SettingsSource {
  if (t.kind === "db") return dbSettings(t.storage.db);
  const api = t.api;
  return {
    async load() {
      const body = obj(await api.json("GET", "/settings"), "settings");
      const values: Record<string, Value> = {};
      for (const [key, value] of Object.entries(obj(body.settings, "settings"))) {
        if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") values[key] = value;
      }
      return values;
    },
    async set(key, value) {
      await api.json("PUT", `/settings/${encodeURIComponent(key)}`, { value });
    },
    async reset(key) {
      await api.json("DELETE", `/settings/${encodeURIComponent(key)}`);
    },
  };
}

function defaultOf(key: string): Value | undefined {
  return isSettingKey(key) ? DEFAULT_SETTINGS[key] : undefined;
}

/** Every setting with its default and meaning; with `changed`, only those that differ from the default (like `postconf -n`). */
export async function settingsList(s: SettingsSource, o: { json?: boolean; changed?: boolean }, out?: Out): Promise<void> {
  const values = await s.load();
  const meaning = settingDescriptions();
  const rows = Object.entries(values)
    .filter(([key, value]) => !o.changed || value !== defaultOf(key))
    .map(([key, value]) => ({ key, value: String(value), default: String(defaultOf(key)), description: meaning.get(key) ?? "" }));
  if (o.json) {
    printRows(rows, ["key", "value", "default", "description"], true, out);
    return;
  }
  if (o.changed && rows.length === 0) {
    (out ?? console.log)("(every setting has its default)");
    return;
  }
  printRows(rows.map((r) => ({ ...r, description: wrap(r.description, 60) })), ["key", "value", "default", "description"], false, out);
}

/** The value is JSON (numbers, true/false, "strings"); anything that is not JSON is a string. */
export function parseSettingValue(raw: string): Value {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  throw new SettingError(`a setting's value is a number, true/false or a string (got ${raw})`);
}

export async function settingsSet(s: SettingsSource, key: string, raw: string, out: Out = console.log): Promise<void> {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}" (see \`mailcluster settings\`)`);
  const value = parseSettingValue(raw);
  await s.set(key, value);
  out(`${key} = ${JSON.stringify(value)}`);
}

export async function settingsReset(s: SettingsSource, key: string, out: Out = console.log): Promise<void> {
  if (!isSettingKey(key)) throw new SettingError(`unknown setting "${key}" (see \`mailcluster settings\`)`);
  await s.reset(key);
  out(`${key} reset to ${JSON.stringify(DEFAULT_SETTINGS[key])}`);
}

export function registerSettings(program: Command): void {
  const cmd = program.command("settings").description("cluster-wide settings (stored in the database)");
  cmd
    .command("list", { isDefault: true })
    .description("every setting: value, default and meaning (--changed: only those not at their default, like postconf -n)")
    .option("--changed", "only settings whose value differs from the default")
    .option("--json", "print JSON")
    .action((o: { json?: boolean; changed?: boolean }) => withTarget((t) => settingsList(settingsSource(t), o)));
  cmd
    .command("set <key> <value>")
    .description("set a setting; the value is JSON (numbers, true/false, \"strings\")")
    .action((key: string, raw: string) => withTarget((t) => settingsSet(settingsSource(t), key, raw)));
  cmd
    .command("reset <key>")
    .description("back to the default")
    .action((key: string) => withTarget((t) => settingsReset(settingsSource(t), key)));
}
