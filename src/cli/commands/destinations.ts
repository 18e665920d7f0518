import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import { clearDestination, destinationsOverview, suspendDestination } from "../../shaping/admin.ts";
import { removeLimits, setLimits, validateLimits } from "../../shaping/limits.ts";
import { addRule, listRules, removeRule } from "../../shaping/rules.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

export async function destinationsList(db: Executor, json: boolean, now: Date, out?: Out): Promise<void> {
  const o = await destinationsOverview(db, now);
  if (json) {
    printResult(o, "", true, out);
    return;
  }
  const write = out ?? ((l: string) => console.log(l));
  const d = o.defaults;
  write(`traffic shaping ${o.enabled ? "on" : "off"}; defaults: ${d.maxConnections} connections, ${d.messagesPerMinute ?? "unlimited"} messages/min, ${d.connectionsPerMinute ?? "unlimited"} connections/min per site`);
  write("suspended or slowed:");
  printRows(
    o.suspensions.map((s) => ({ site: s.site, action: s.maxConnections === null ? "suspend" : `slow to ${s.maxConnections}`, until: s.until, domains: s.domains.join(","), reason: s.reason })),
    ["site", "action", "until", "domains", "reason"],
    false,
    out,
  );
  write("limits:");
  printRows(
    o.limits.map((l) => ({ destination: l.destination, connections: l.maxConnections, messages_per_min: l.messagesPerMinute, connections_per_min: l.connectionsPerMinute })),
    ["destination", "connections", "messages_per_min", "connections_per_min"],
    false,
    out,
  );
  write("connection slots held:");
  printRows(o.slots.map((s) => ({ site: s.site, held: s.held, holders: s.holders.join(",") })), ["site", "held", "holders"], false, out);
}

export async function destinationsClear(db: Executor, destination: string, json: boolean, now: Date, out?: Out): Promise<void> {
  const r = await clearDestination(db, destination, now);
  if (r.cleared.length === 0) throw new Error(`${destination} is not suspended`);
  printResult(r, `lifted: ${r.cleared.join(", ")} (${r.recipients} recipients due now)`, json, out);
}

export interface LimitOptions {
  connections?: string;
  messagesPerMinute?: string;
  connectionsPerMinute?: string;
  remove?: boolean;
  json?: boolean;
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new Error(`--${name} takes a whole number, not "${value}"`);
  return Number(value);
}

export async function destinationsLimit(db: Executor, destination: string, o: LimitOptions, out?: Out): Promise<void> {
  if (o.remove) {
    if (!(await removeLimits(db, destination))) throw new Error(`no limits set for ${destination}`);
    printResult({ removed: destination.trim().toLowerCase() }, `limits of ${destination.trim().toLowerCase()} removed`, Boolean(o.json), out);
    return;
  }
  const body = {
    maxConnections: intOption(o.connections, "connections"),
    messagesPerMinute: intOption(o.messagesPerMinute, "messages-per-minute"),
    connectionsPerMinute: intOption(o.connectionsPerMinute, "connections-per-minute"),
  };
  const l = await setLimits(db, validateLimits(destination, body));
  const show = (v: number | null, what: string) => (v === null ? `${what}: default` : `${what}: ${v === 0 && what !== "connections" ? "unlimited" : v}`);
  printResult(l, `${l.destination}: ${show(l.maxConnections, "connections")}, ${show(l.messagesPerMinute, "messages/min")}, ${show(l.connectionsPerMinute, "connections/min")}`, Boolean(o.json), out);
}

export async function destinationsSuspend(db: Executor, destination: string, seconds: string, o: { reason?: string; json?: boolean }, now: Date, out?: Out): Promise<void> {
  const n = intOption(seconds, "seconds");
  const s = await suspendDestination(db, { destination, seconds: n, reason: o.reason, now });
  printResult(s, `${s.site} suspended until ${s.until.toISOString()}`, Boolean(o.json), out);
}

export async function destinationsRules(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rules = await listRules(db);
  printRows(
    rules.map((r) => ({ id: r.id, action: r.action === "slow" ? `slow to ${r.maxConnections}` : "suspend", seconds: r.seconds, pattern: r.pattern })),
    ["id", "action", "seconds", "pattern"],
    json,
    out,
  );
}

export function registerDestinations(program: Command): void {
  const cmd = program.command("destinations").description("cluster-wide traffic shaping per destination site: suspensions, limits, reply rules");
  cmd
    .command("list")
    .description("suspended or slowed sites, per-destination limits, connection slots held now")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withDatabase({}, (s) => destinationsList(s.db, Boolean(o.json), new Date())));
  cmd
    .command("clear <destination>")
    .description("lift the suspension of a site key (mx:…, route:…) or of every site that held back a recipient domain; its recipients are due at once")
    .option("--json", "print JSON")
    .action((destination: string, o: { json?: boolean }) => withDatabase({}, (s) => destinationsClear(s.db, destination, Boolean(o.json), new Date())));
  cmd
    .command("limit <destination>")
    .description("set cluster-wide limits of a recipient domain or site key (unset ones follow the relay_destination_* settings)")
    .option("--connections <n>", "connections at once")
    .option("--messages-per-minute <n>", "messages per minute (0 = no limit)")
    .option("--connections-per-minute <n>", "new connections per minute (0 = no limit)")
    .option("--remove", "remove the destination's limits")
    .option("--json", "print JSON")
    .action((destination: string, o: LimitOptions) => withDatabase({}, (s) => destinationsLimit(s.db, destination, o)));
  cmd
    .command("suspend <destination> <seconds>")
    .description("suspend a destination for every member")
    .option("--reason <text>", "shown in the list")
    .option("--json", "print JSON")
    .action((destination: string, seconds: string, o: { reason?: string; json?: boolean }) => withDatabase({}, (s) => destinationsSuspend(s.db, destination, seconds, o, new Date())));
  const rules = cmd.command("rules").description("reply rules: a temporary reply matching a pattern suspends or slows its site");
  rules
    .command("list")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withDatabase({}, (s) => destinationsRules(s.db, Boolean(o.json))));
  rules
    .command("add <pattern> <action> <seconds>")
    .description('ACTION = suspend | slow (with --max-connections); PATTERN = regular expression on "<code> <enhanced> <text>"')
    .option("--max-connections <n>", "for slow: connections allowed meanwhile")
    .option("--json", "print JSON")
    .action((pattern: string, action: string, seconds: string, o: { maxConnections?: string; json?: boolean }) =>
      withDatabase({}, async (s) => {
        const r = await addRule(s.db, { pattern, action, seconds: intOption(seconds, "seconds"), maxConnections: intOption(o.maxConnections, "max-connections") });
        printResult(r, `rule ${r.id} added`, Boolean(o.json));
      }),
    );
  rules
    .command("remove <id>")
    .option("--json", "print JSON")
    .action((id: string, o: { json?: boolean }) =>
      withDatabase({}, async (s) => {
        const n = intOption(id, "id") ?? 0;
        if (!(await removeRule(s.db, n))) throw new Error(`no reply rule ${id}`);
        printResult({ removed: n }, `rule ${n} removed`, Boolean(o.json));
      }),
    );
}
