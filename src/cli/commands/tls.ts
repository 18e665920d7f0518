import type { Command } from "commander";
import { asc, eq, sql } from "drizzle-orm";
import type { Executor } from "../../db/db.ts";
import { num, queryRows, str, strOrNull } from "../../db/rows.ts";
import { mtaStsPolicies } from "../../db/schema/index.ts";
import { normalizeRouteDomain } from "../../relay/routes-store.ts";
import { utcDay } from "../../tls-report/recorder.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

/** The cluster's cached MTA-STS policies (docs/tls.md), domains without one included. */
export async function tlsPolicies(db: Executor, json: boolean, out?: Out): Promise<void> {
  const rows = await db.select().from(mtaStsPolicies).orderBy(asc(mtaStsPolicies.domain));
  printRows(
    rows.map((r) => ({
      domain: r.domain,
      mode: r.policyText === null ? (r.errorType ? "error" : "no policy") : r.mode,
      mx: r.mx.join(","),
      id: r.txtId,
      expires: r.expiresAt,
      checked: r.checkedAt,
      error: r.errorType ? `${r.errorType}: ${r.error ?? ""}` : null,
    })),
    ["domain", "mode", "mx", "id", "expires", "checked", "error"],
    json,
    out,
  );
}

/** TLS-RPT counts per day and domain, and whether that day's report went out. */
export async function tlsReports(db: Executor, o: { days: number; now: Date }, json: boolean, out?: Out): Promise<void> {
  const rows = await queryRows(
    db,
    sql`SELECT r.day::text AS day, r.policy_domain,
               sum(r.sessions) FILTER (WHERE r.result_type = 'success') AS ok,
               sum(r.sessions) FILTER (WHERE r.result_type <> 'success') AS failed,
               string_agg(DISTINCT r.result_type, ',') FILTER (WHERE r.result_type <> 'success') AS failures,
               p.status, p.rua
        FROM tls_rpt_results r LEFT JOIN tls_rpt_reports p ON p.day = r.day AND p.policy_domain = r.policy_domain
        WHERE r.day >= ${utcDay(o.now)}::date - ${o.days}::int
        GROUP BY r.day, r.policy_domain, p.status, p.rua
        ORDER BY r.day DESC, r.policy_domain`,
  );
  printRows(
    rows.map((r) => ({
      day: str(r.day),
      domain: str(r.policy_domain),
      successes: r.ok === null ? 0 : num(r.ok),
      failures: r.failed === null ? 0 : num(r.failed),
      failure_types: strOrNull(r.failures),
      report: strOrNull(r.status) ?? "pending",
      rua: strOrNull(r.rua),
    })),
    ["day", "domain", "successes", "failures", "failure_types", "report", "rua"],
    json,
    out,
  );
}

/** Drop a domain's cached policy: the next delivery (within a minute on every member) asks DNS and fetches again. */
export async function tlsRefresh(db: Executor, domain: string, json: boolean, out?: Out): Promise<void> {
  const d = normalizeRouteDomain(domain);
  const gone = await db.delete(mtaStsPolicies).where(eq(mtaStsPolicies.domain, d)).returning({ domain: mtaStsPolicies.domain });
  printResult({ domain: d, dropped: gone.length > 0 }, gone.length > 0 ? `MTA-STS policy of ${d} dropped; fetched again at the next delivery` : `no cached MTA-STS policy for ${d}`, json, out);
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
