import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import { formatHostList, listRoutes, removeRoute, setRoute } from "../../relay/routes-store.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

export interface RouteAddOptions {
  tls?: string;
  requireTls?: boolean;
  authUser?: string;
  authPass?: string;
  json?: boolean;
}

export async function routeAdd(db: Executor, domain: string, hosts: string, o: RouteAddOptions, out?: Out): Promise<void> {
  const r = await setRoute(db, { domain, hosts, tls: o.tls, requireTls: Boolean(o.requireTls), authUser: o.authUser ?? null, authPass: o.authPass ?? null });
  const value = { domain: r.domain, hosts: formatHostList(r.hosts), tls: r.tls, requireTls: r.requireTls, authUser: r.authUser };
  printResult(value, `route ${r.domain} → ${value.hosts} (TLS ${r.tls})${r.authUser ? ` (AUTH as ${r.authUser})` : ""}`, Boolean(o.json), out);
}

export async function routeList(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rows = await listRoutes(db);
  printRows(
    rows.map((r) => ({ domain: r.domain, hosts: formatHostList(r.hosts), tls: r.tls, auth_user: r.authUser, created: r.createdAt })),
    ["domain", "hosts", "tls", "auth_user", "created"],
    json,
    out,
  );
}

export async function routeRemove(db: Executor, domain: string, json: boolean, out?: Out): Promise<void> {
  await removeRoute(db, domain);
  printResult({ removed: domain.trim().toLowerCase() }, `route ${domain.trim().toLowerCase()} removed`, json, out);
}

export function registerRoute(program: Command): void {
  const cmd = program.command("route").description("relay routes: a domain (or *) → host[:port] list, before the forwarding server and DNS");
  cmd
    .command("add <domain> <hosts>")
    .description("add or replace the route of DOMAIN ('*' = every domain without its own); HOSTS = host[:port][,host[:port]...], tried in order")
    .option("--tls <level>", "none | may (default: STARTTLS when offered) | encrypt (STARTTLS required) | verify (and a certificate valid for the host name)")
    .option("--require-tls", "the same as --tls encrypt")
    .option("--auth-user <user>", "AUTH as this user")
    .option("--auth-pass <password>", "password for --auth-user")
    .option("--json", "print JSON")
    .action((domain: string, hosts: string, o: RouteAddOptions) => withDatabase({}, (s) => routeAdd(s.db, domain, hosts, o)));
  cmd
    .command("list")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withDatabase({}, (s) => routeList(s.db, Boolean(o.json))));
  cmd
    .command("remove <domain>")
    .option("--json", "print JSON")
    .action((domain: string, o: { json?: boolean }) => withDatabase({}, (s) => routeRemove(s.db, domain, Boolean(o.json))));
}
