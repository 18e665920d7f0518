import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import { normalizeRouteDomain } from "../../relay/routes-store.ts";
import { dropStsPolicy, listStsPolicies, tlsReportDays } from "../../tls-report/admin.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

/** The cluster's cached MTA-STS policies (docs/tls.md), domains without one included. */
export async function tlsPolicies(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rows = await listStsPolicies(db);
  printRows(
    rows.map((r) => ({ domain: r.domain, mode: r.mode, mx: r.mx.join(","), id: r.id, expires: r.expiresAt, checked: r.checkedAt, error: r.error })),
    ["domain", "mode", "mx", "id", "expires", "checked", "error"],
    json,
    out,
  );
}

/** TLS-RPT counts per day and domain, and whether that day's report went out. */
export async function tlsReports(db: Executor, o: { days: number; now: Date }, json: boolean, out?: Out): Promise<void> {
  const rows = await tlsReportDays(db, o);
  printRows(
    rows.map((r) => ({ day: r.day, domain: r.domain, successes: r.successes, failures: r.failures, failure_types: r.failureTypes.length > 0 ? r.failureTypes.join(",") : null, report: r.report, rua: r.rua })),
    ["day", "domain", "successes", "failures", "failure_types", "report", "rua"],
    json,
    out,
  );
}

/** Drop a domain's cached policy: the next delivery (within a minute on every member) asks DNS and fetches again. */
export async function tlsRefresh(db: Executor, domain: string, json: boolean, out?: Out): Promise<void> {
  const d = normalizeRouteDomain(domain);
  const dropped = await dropStsPolicy(db, d);
  printResult({ domain: d, dropped }, dropped ? `MTA-STS policy of ${d} dropped; fetched again at the next delivery` : `no cached MTA-STS policy for ${d}`, json, out);
}

export function registerTls(program: Command): void {
  const cmd = program.command("tls").description("outbound TLS: cached MTA-STS policies and TLS-RPT counts (docs/tls.md)");
  cmd
    .command("policies")
    .description("the MTA-STS policies the cluster has cached, per recipient domain")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => withDatabase({}, (s) => tlsPolicies(s.db, Boolean(o.json))));
  cmd
    .command("reports")
    .description("TLS-RPT session counts per day and domain, and each day's report status")
    .option("--days <n>", "days back", "7")
    .option("--json", "print JSON")
    .action((o: { days: string; json?: boolean }) => withDatabase({}, (s) => tlsReports(s.db, { days: Math.max(0, Number.parseInt(o.days, 10) || 0), now: new Date() }, Boolean(o.json))));
  cmd
    .command("refresh <domain>")
    .description("drop the cached MTA-STS policy of DOMAIN so that it is fetched again")
    .option("--json", "print JSON")
    .action((domain: string, o: { json?: boolean }) => withDatabase({}, (s) => tlsRefresh(s.db, domain, Boolean(o.json))));
}
