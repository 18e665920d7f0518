import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import { suppressionsFromCsv, suppressionsToCsv } from "../../suppression/csv.ts";
import { addSuppressions, allSuppressions, getSuppression, listSuppressions, removeSuppression, SuppressionError } from "../../suppression/store.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

const stdout: Out = (line) => console.log(line);

export async function suppressionList(db: Executor, o: { search?: string; limit: number; offset: number; active: boolean; now: Date; json: boolean }, out?: Out): Promise<void> {
  const page = await listSuppressions(db, { search: o.search, limit: o.limit, offset: o.offset, activeAt: o.active ? o.now : undefined });
  const rows = page.items.map((s) => ({
    address: s.address,
    reason: s.reason,
    source: s.source,
    class: s.bounceClass ?? "",
    expires: s.expiresAt ?? "never",
    created: s.createdAt,
    by: s.createdBy,
  }));
  printRows(rows, ["address", "reason", "source", "class", "expires", "created", "by"], o.json, out);
  if (!o.json && page.total > o.offset + rows.length) (out ?? stdout)(`(${rows.length} of ${page.total}; --offset ${o.offset + rows.length} for more)`);
}

/** "30d", "12h", "90m" or an ISO 8601 date/date-time → the expiry; null when none is given. */
export function parseExpiry(value: string | undefined, now: Date): Date | null {
  if (value === undefined) return null;
  const rel = /^(\d{1,6})([dhm])$/.exec(value.trim());
  if (rel) return new Date(now.getTime() + Number(rel[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as "d" | "h" | "m"]);
  const abs = /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value.trim()) ? new Date(value.trim()) : null;
  if (!abs || Number.isNaN(abs.getTime())) throw new SuppressionError(`--expires "${value}" is neither a duration (30d, 12h, 90m) nor an ISO 8601 date`);
  if (abs.getTime() <= now.getTime()) throw new SuppressionError(`--expires ${abs.toISOString()} is already past`);
  return abs;
}

export async function suppressionAdd(db: Executor, address: string, o: { reason: string; expires?: string; now: Date; json: boolean }, out?: Out): Promise<void> {
  const expiresAt = parseExpiry(o.expires, o.now);
  await addSuppressions(db, { entries: [{ address, reason: o.reason, expiresAt }], source: "manual", createdBy: "cli", now: o.now });
  const s = await getSuppression(db, address);
  printResult(s, `${s?.address} suppressed${expiresAt ? ` until ${expiresAt.toISOString()}` : ""}`, o.json, out);
}

export async function suppressionRemove(db: Executor, address: string, json: boolean, out?: Out): Promise<void> {
  if (!(await removeSuppression(db, address))) throw new SuppressionError(`${address} is not on the suppression list`);
  const a = address.trim().toLowerCase();
  printResult({ removed: a }, `${a} removed from the suppression list`, json, out);
}

/** All lines or none: with any bad line nothing is written and every problem is reported. */
export async function suppressionImport(db: Executor, csv: string, o: { now: Date; json: boolean }, out?: Out): Promise<void> {
  const parsed = suppressionsFromCsv(csv);
  if (!parsed.ok) {
    const list = parsed.problems.map((p) => `  line ${p.line}: ${p.problem}`).join("\n");
    throw new SuppressionError(`${parsed.problems.length} bad line(s); nothing was imported:\n${list}`);
  }
  const imported = await addSuppressions(db, { entries: parsed.entries, source: "manual", createdBy: "cli:import", now: o.now });
  printResult({ imported }, `${imported} address(es) imported`, o.json, out);
}

export async function suppressionExport(db: Executor): Promise<string> {
  return suppressionsToCsv(await allSuppressions(db));
}

async function readInput(file: string): Promise<string> {
  if (file !== "-") return readFile(file, "utf8");
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

function positiveInt(name: string, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new SuppressionError(`${name} must be a whole number from 0 to ${max}`);
    return n;
  };
}

export function registerSuppression(program: Command): void {
  const cmd = program.command("suppression").description("the cluster-wide suppression list: addresses the relay no longer sends to");
  cmd
    .command("list")
    .option("--search <text>", "part of the address or reason")
    .option("--active", "leave out expired entries")
    .option("--limit <n>", "rows per page", positiveInt("--limit", 10_000), 100)
    .option("--offset <n>", "rows to skip", positiveInt("--offset", Number.MAX_SAFE_INTEGER), 0)
    .option("--json", "print JSON")
    .action((o: { search?: string; active?: boolean; limit: number; offset: number; json?: boolean }) =>
      withDatabase({}, (s) => suppressionList(s.db, { search: o.search, limit: o.limit, offset: o.offset, active: Boolean(o.active), now: new Date(), json: Boolean(o.json) })),
    );
  cmd
    .command("add <address>")
    .requiredOption("--reason <text>", "why (shown in the bounce)")
    .option("--expires <when>", "30d, 12h, 90m or an ISO 8601 date; default never")
    .option("--json", "print JSON")
    .action((address: string, o: { reason: string; expires?: string; json?: boolean }) =>
      withDatabase({}, (s) => suppressionAdd(s.db, address, { reason: o.reason, expires: o.expires, now: new Date(), json: Boolean(o.json) })),
    );
  cmd
    .command("remove <address>")
    .option("--json", "print JSON")
    .action((address: string, o: { json?: boolean }) => withDatabase({}, (s) => suppressionRemove(s.db, address, Boolean(o.json))));
  cmd
    .command("import <file>")
    .description("import a CSV (header: address[,reason][,expires_at]; - = stdin); any bad line and nothing is imported")
    .option("--json", "print JSON")
    .action(async (file: string, o: { json?: boolean }) => {
      const csv = await readInput(file);
      await withDatabase({}, (s) => suppressionImport(s.db, csv, { now: new Date(), json: Boolean(o.json) }));
    });
  cmd
    .command("export [file]")
    .description("write the whole list as CSV (default: stdout)")
    .action(async (file: string | undefined) => {
      const csv = await withDatabase({}, (s) => suppressionExport(s.db));
      if (file && file !== "-") await writeFile(file, csv);
      else process.stdout.write(csv);
    });
}
