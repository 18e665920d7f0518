import type { Command } from "commander";
import { addDomain, listDomains, removeDomain } from "../../accounts/store.ts";
import type { Executor } from "../../db/db.ts";
import { apiDomainAdd, apiDomainList, apiDomainRemove } from "../api-commands.ts";
import { withTarget } from "../context.ts";
import { type Out, printRows, printResult } from "../output-admin.ts";

export async function domainAdd(db: Executor, name: string, json: boolean, out?: Out): Promise<void> {
  const d = await addDomain(db, name);
  printResult({ added: d }, `domain ${d} added`, json, out);
}

export async function domainRemove(db: Executor, name: string, json: boolean, out?: Out): Promise<void> {
  await removeDomain(db, name);
  printResult({ removed: name.toLowerCase() }, `domain ${name.toLowerCase()} removed (with its accounts)`, json, out);
}

export async function domainList(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rows = await listDomains(db);
  printRows(rows.map((d) => ({ name: d.name, catch_all: d.catchAll, created: d.createdAt })), ["name", "catch_all", "created"], json, out);
}

export function registerDomain(program: Command): void {
  const cmd = program.command("domain").description("local domains (mail for them is stored here, never relayed)");
  cmd
    .command("add <name>")
    .option("--json", "print JSON")
    .action((name: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? domainAdd(t.storage.db, name, Boolean(o.json)) : apiDomainAdd(t.api, name, Boolean(o.json)))));
  cmd
    .command("list")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? domainList(t.storage.db, Boolean(o.json)) : apiDomainList(t.api, Boolean(o.json)))));
  cmd
    .command("remove <name>")
    .description("remove a domain and every account and alias in it")
    .option("--json", "print JSON")
    .action((name: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? domainRemove(t.storage.db, name, Boolean(o.json)) : apiDomainRemove(t.api, name, Boolean(o.json)))));
}
