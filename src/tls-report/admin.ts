import { asc, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { num, queryRows, str, strOrNull } from "../db/rows.ts";
import { mtaStsPolicies } from "../db/schema/index.ts";
import { utcDay } from "./recorder.ts";

/** A cached MTA-STS row as operators see it (CLI `tls policies`, GET /api/v1/tls/policies). */
export interface StsPolicyView {
  domain: string;
  /** enforce | testing | none, "no policy" (no TXT record) or "error" (the fetch failed). */
  mode: string;
  mx: string[];
  id: string | null;
  expiresAt: Date | null;
  checkedAt: Date;
  error: string | null;
}

export async function listStsPolicies(db: Executor): Promise<StsPolicyView[]> {
  const rows = await db.select().from(mtaStsPolicies).orderBy(asc(mtaStsPolicies.domain));
  return rows.map((r) => ({
    domain: r.domain,
    mode: r.policyText === null ? (r.errorType ? "error" : "no policy") : r.mode,
    mx: r.mx,
    id: r.txtId,
    expiresAt: r.expiresAt,
    checkedAt: r.checkedAt,
    error: r.errorType ? `${r.errorType}: ${r.error ?? ""}` : null,
  }));
}

/** Drop a domain's cached policy; the next delivery (within a minute on every member) asks DNS and fetches again. */
export async function dropStsPolicy(db: Executor, domain: string): Promise<boolean> {
  const gone = await db.delete(mtaStsPolicies).where(eq(mtaStsPolicies.domain, domain)).returning({ domain: mtaStsPolicies.domain });
  return gone.length > 0;
}

/** TLS-RPT counts of one day and domain, and what became of its report. */
export interface TlsReportDay {
  day: string;
  domain: string;
  successes: number;
  failures: number;
  failureTypes: string[];
  /** sent | no-rua | pending (not made yet) */
  report: string;
  rua: string | null;
}

export async function tlsReportDays(db: Executor, o: { days: number; now: Date }): Promise<TlsReportDay[]> {
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
  return rows.map((r) => ({
    day: str(r.day),
    domain: str(r.policy_domain),
    successes: r.ok === null ? 0 : num(r.ok),
    failures: r.failed === null ? 0 : num(r.failed),
    failureTypes: (strOrNull(r.failures) ?? "").split(",").filter((t) => t !== ""),
    report: strOrNull(r.status) ?? "pending",
    rua: strOrNull(r.rua),
  }));
}
