import type { Command } from "commander";
import { addAlias, listAliases, removeAlias } from "../../accounts/store.ts";
import type { Executor } from "../../db/db.ts";
import { apiAliasAdd, apiAliasList, apiAliasRemove } from "../api-commands.ts";
import { withTarget } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

export async function aliasAdd(db: Executor, address: string, targets: string[], json: boolean, out?: Out): Promise<void> {
  const a = await addAlias(db, address, targets);
  printResult({ added: a, targets }, `alias ${a} → ${targets.join(", ")}`, json, out);
}

export async function aliasRemove(db: Executor, address: string, json: boolean, out?: Out): Promise<void> {
  await removeAlias(db, address);
  printResult({ removed: address.toLowerCase() }, `alias ${address.toLowerCase()} removed`, json, out);
}

export async function aliasList(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rows = await listAliases(db);
  printRows(rows.map((a) => ({ address: a.address, targets: a.targets.split(",").join(", "), created: a.createdAt })), ["address", "targets", "created"], json, out);
}

export function registerAlias(program: Command): void {
  const cmd = program.command("alias").description("addresses that deliver to other addresses");
  cmd
    .command("add <address> <targets...>")
    .option("--json", "print JSON")
    .action((address: string, targets: string[], o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? aliasAdd(t.storage.db, address, targets, Boolean(o.json)) : apiAliasAdd(t.api, address, targets, Boolean(o.json)))));
  cmd
    .command("list")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? aliasList(t.storage.db, Boolean(o.json)) : apiAliasList(t.api, Boolean(o.json)))));
  cmd
    .command("remove <address>")
    .option("--json", "print JSON")
    .action((address: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? aliasRemove(t.storage.db, address, Boolean(o.json)) : apiAliasRemove(t.api, address, Boolean(o.json)))));
}
