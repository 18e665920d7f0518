import type { AdminClient } from "./admin-client.ts";
import { cell, items, obj } from "./json-fields.ts";
import { type Out, printResult, printRows } from "./output-admin.ts";

/**
 * The directory and member commands through a running member's admin API (PGlite): the same
 * columns, sentences and --json as their database versions in commands/*.ts.
 */

export async function apiDomainList(api: AdminClient, json: boolean, out?: Out): Promise<void> {
  const rows = items(await api.json("GET", "/domains"), "domains");
  printRows(rows.map((d) => ({ name: cell(d.name), catch_all: cell(d.catchAll), created: cell(d.createdAt) })), ["name", "catch_all", "created"], json, out);
}

export async function apiDomainAdd(api: AdminClient, name: string, json: boolean, out?: Out): Promise<void> {
  const d = String(obj(await api.json("POST", "/domains", { name }), "domain").name);
  printResult({ added: d }, `domain ${d} added`, json, out);
}

export async function apiDomainRemove(api: AdminClient, name: string, json: boolean, out?: Out): Promise<void> {
  await api.json("DELETE", `/domains/${encodeURIComponent(name)}`);
  printResult({ removed: name.toLowerCase() }, `domain ${name.toLowerCase()} removed (with its accounts)`, json, out);
}

export async function apiAccountList(api: AdminClient, domain: string | undefined, json: boolean, out?: Out): Promise<void> {
  const rows = items(await api.json("GET", domain ? `/accounts?domain=${encodeURIComponent(domain)}` : "/accounts"), "accounts");
  printRows(
    rows.map((a) => ({ address: cell(a.address), quota: cell(a.quotaBytes), home: cell(a.homeMember), enabled: cell(a.enabled), created: cell(a.createdAt) })),
    ["address", "quota", "home", "enabled", "created"],
    json,
    out,
  );
}

export async function apiAccountAdd(api: AdminClient, address: string, o: { quota: number | null; home: string | null; password: string | null; json: boolean }, out?: Out): Promise<void> {
  const body: Record<string, unknown> = { address, quota: o.quota, home: o.home };
  if (o.password !== null) body.password = o.password;
  const a = String(obj(await api.json("POST", "/accounts", body), "account").address);
  printResult({ added: a, quota: o.quota, home: o.home, password: o.password !== null }, `account ${a} added`, o.json, out);
}

export async function apiAccountRemove(api: AdminClient, address: string, json: boolean, out?: Out): Promise<void> {
  await api.json("DELETE", `/accounts/${encodeURIComponent(address)}`);
  printResult({ removed: address.toLowerCase() }, `account ${address.toLowerCase()} removed (with its mail)`, json, out);
}

export async function apiAccountMessages(api: AdminClient, address: string, json: boolean, out?: Out): Promise<void> {
  const rows = items(await api.json("GET", `/accounts/${encodeURIComponent(address)}/messages`), "messages");
  printRows(
    rows.map((m) => ({
      id: cell(m.id),
      folder: cell(m.folder),
      uid: cell(m.uid),
      size: cell(m.sizeBytes),
      from: cell(m.from),
      subject: cell(m.subject),
      date: cell(m.date),
      flags: Array.isArray(m.flags) ? m.flags.join(" ") : "",
    })),
    ["id", "folder", "uid", "size", "from", "subject", "date", "flags"],
    json,
    out,
  );
}

export async function apiAliasList(api: AdminClient, json: boolean, out?: Out): Promise<void> {
  const rows = items(await api.json("GET", "/aliases"), "aliases");
  printRows(
    rows.map((a) => ({ address: cell(a.address), targets: Array.isArray(a.targets) ? a.targets.join(", ") : cell(a.targets), created: cell(a.createdAt) })),
    ["address", "targets", "created"],
    json,
    out,
  );
}

export async function apiAliasAdd(api: AdminClient, address: string, targets: string[], json: boolean, out?: Out): Promise<void> {
  const a = String(obj(await api.json("POST", "/aliases", { address, targets }), "alias").address);
  printResult({ added: a, targets }, `alias ${a} → ${targets.join(", ")}`, json, out);
}

export async function apiAliasRemove(api: AdminClient, address: string, json: boolean, out?: Out): Promise<void> {
  await api.json("DELETE", `/aliases/${encodeURIComponent(address)}`);
  printResult({ removed: address.toLowerCase() }, `alias ${address.toLowerCase()} removed`, json, out);
}

export async function apiMemberMode(api: AdminClient, name: string, mode: string, json: boolean, out: Out = console.log): Promise<void> {
  const change = obj(await api.json("PUT", `/members/${encodeURIComponent(name)}`, { submitMode: mode }), "member");
  if (json) out(JSON.stringify(change, null, 2));
  else out(`member ${String(change.name)}: submit mode ${String(change.previous)} -> ${String(change.submitMode)} (takes effect with its next heartbeat)`);
}

/** Members as `members` lists them; the heartbeat's age is computed here, as on the database. */
export async function apiMembers(api: AdminClient, json: boolean, out?: Out, now = new Date()): Promise<void> {
  const rows = items(await api.json("GET", "/members"), "members");
  printRows(
    rows.map((m) => ({
      name: cell(m.name),
      alive: cell(m.alive),
      roles: Array.isArray(m.roles) ? m.roles.join(",") : cell(m.roles),
      submit: cell(m.submitMode),
      smtp: cell(m.smtpEndpoint),
      http: cell(m.httpUrl),
      pid: cell(m.pid),
      started: cell(m.startedAt),
      heartbeat_age_s: typeof m.heartbeatAt === "string" ? Math.round((now.getTime() - Date.parse(m.heartbeatAt)) / 1000) : null,
    })),
    ["name", "alive", "roles", "submit", "smtp", "http", "pid", "started", "heartbeat_age_s"],
    json,
    out,
  );
}
