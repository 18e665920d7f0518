import type { Command } from "commander";
import { AccountError, addAccount, listAccounts, removeAccount } from "../../accounts/store.ts";
import { listStoredMessages } from "../../accounts/stored-messages.ts";
import type { Executor } from "../../db/db.ts";
import { apiAccountAdd, apiAccountList, apiAccountMessages, apiAccountRemove } from "../api-commands.ts";
import { withTarget } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

export interface AccountAddOptions {
  password?: string;
  passwordStdin?: boolean;
  home?: string;
  quota?: string;
  json?: boolean;
}

/** Whole, non-negative bytes; "10M"-style suffixes would be nice but are not promised. */
export function parseQuota(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  if (!/^\d+$/.test(raw.trim())) throw new AccountError(`--quota must be a whole number of bytes (got "${raw}")`);
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n)) throw new AccountError(`--quota is too large (got "${raw}")`);
  return n;
}

/** The password from --password or stdin (--password-stdin keeps it out of shell history); one line, newline stripped. */
export async function readPassword(o: AccountAddOptions, stdin: AsyncIterable<string | Uint8Array> = process.stdin): Promise<string | null> {
  if (o.password !== undefined && o.passwordStdin) throw new AccountError("give --password or --password-stdin, not both");
  if (o.password !== undefined) {
    if (o.password === "") throw new AccountError("--password must not be empty");
    return o.password;
  }
  if (!o.passwordStdin) return null;
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stdin) text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new AccountError("--password-stdin: no password on standard input");
  if (password.includes("\n")) throw new AccountError("--password-stdin: expected one line");
  return password;
}

export async function accountAdd(db: Executor, address: string, o: AccountAddOptions, password: string | null, out?: Out): Promise<void> {
  const quotaBytes = parseQuota(o.quota);
  const a = await addAccount(db, { address, password, quotaBytes, homeMember: o.home ?? null });
  printResult({ added: a, quota: quotaBytes, home: o.home ?? null, password: password !== null }, `account ${a} added`, Boolean(o.json), out);
}

export async function accountRemove(db: Executor, address: string, json: boolean, out?: Out): Promise<void> {
  await removeAccount(db, address);
  printResult({ removed: address.toLowerCase() }, `account ${address.toLowerCase()} removed (with its mail)`, json, out);
}

export async function accountList(db: Executor, domain: string | undefined, json: boolean, out?: Out): Promise<void> {
  const rows = await listAccounts(db, domain);
  printRows(
    rows.map((a) => ({ address: a.address, quota: a.quotaBytes, home: a.homeMember, enabled: a.enabled, created: a.createdAt })),
    ["address", "quota", "home", "enabled", "created"],
    json,
    out,
  );
}

export async function accountMessages(db: Executor, address: string, json: boolean, out?: Out): Promise<void> {
  const rows = await listStoredMessages(db, address);
  printRows(
    rows.map((m) => ({ id: m.id, folder: m.folder, uid: m.uid, size: m.sizeBytes, from: m.from, subject: m.subject, date: m.date, flags: m.flags.join(" ") })),
    ["id", "folder", "uid", "size", "from", "subject", "date", "flags"],
    json,
    out,
  );
}

/** --domain for listings: "*" (or nothing) is every domain; another wildcard is refused, since it would match none. */
export function accountDomainFilter(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === "*") return undefined;
  if (raw.trim() === "" || raw.includes("*")) throw new AccountError(`--domain "${raw}" is not a domain ("*" lists every domain)`);
  return raw.trim();
}

export function registerAccount(program: Command): void {
  const cmd = program.command("account").description("accounts in local domains");
  cmd
    .command("add <address>")
    .option("--password <password>", "login password (prefer --password-stdin)")
    .option("--password-stdin", "read the password from standard input")
    .option("--home <member>", "static cluster: the only backend that may open the account")
    .option("--quota <bytes>", "mailbox quota in bytes")
    .option("--json", "print JSON")
    .action(async (address: string, o: AccountAddOptions) => {
      // Read stdin before opening the database, so a missing password fails fast.
      const password = await readPassword(o);
      await withTarget((t) =>
        t.kind === "db"
          ? accountAdd(t.storage.db, address, o, password)
          : apiAccountAdd(t.api, address, { quota: parseQuota(o.quota), home: o.home ?? null, password, json: Boolean(o.json) }),
      );
    });
  cmd
    .command("list")
    .option("--domain <domain>", "only this domain (\"*\": every domain)")
    .option("--json", "print JSON")
    .action((o: { domain?: string; json?: boolean }) => {
      const domain = accountDomainFilter(o.domain);
      return withTarget((t) => (t.kind === "db" ? accountList(t.storage.db, domain, Boolean(o.json)) : apiAccountList(t.api, domain, Boolean(o.json))));
    });
  cmd
    .command("remove <address>")
    .description("remove an account and its stored mail")
    .option("--json", "print JSON")
    .action((address: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? accountRemove(t.storage.db, address, Boolean(o.json)) : apiAccountRemove(t.api, address, Boolean(o.json)))));
  cmd
    .command("messages <address>")
    .description("list stored messages: folder, uid, size, from, subject, date")
    .option("--json", "print JSON")
    .action((address: string, o: { json?: boolean }) => withTarget((t) => (t.kind === "db" ? accountMessages(t.storage.db, address, Boolean(o.json)) : apiAccountMessages(t.api, address, Boolean(o.json)))));
}
