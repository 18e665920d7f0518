import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { pgArray } from "../db/rows.ts";
import type { TlsSessionResult } from "./results.ts";

interface Counted {
  day: string;
  result: TlsSessionResult;
  sessions: number;
}

/** The table's primary key; a success carries no host (record() drops it). */
function keyOf(day: string, r: TlsSessionResult): string {
  return [day, r.policy.domain, r.policy.type, r.policy.policyString, r.result, r.mxHost ?? "", r.ip ?? ""].join("\u0000");
}

/** The UTC day of a moment, as PostgreSQL's date text. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * TLS-RPT counts of one member, kept in memory and added to tls_rpt_results by flush() (every
 * minute, and on stop), so a delivery costs no database write. A crash loses at most the last
 * minute's counts, which an aggregate report can afford.
 */
export class TlsReportRecorder {
  private counts = new Map<string, Counted>();

  record(result: TlsSessionResult, at: Date): void {
    const day = utcDay(at);
    const failure = result.result !== "success";
    const r: TlsSessionResult = failure ? result : { policy: result.policy, result: "success" };
    const key = keyOf(day, r);
    const c = this.counts.get(key);
    if (c) c.sessions += 1;
    else this.counts.set(key, { day, result: r, sessions: 1 });
  }

  /** Sessions counted and not flushed yet. */
  get pending(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c.sessions;
    return n;
  }

  /** Add the counts to the shared table in one statement; on failure they stay for the next flush. */
  async flush(db: Executor): Promise<number> {
    if (this.counts.size === 0) return 0;
    const batch = [...this.counts.values()];
    this.counts = new Map();
    const col = (f: (c: Counted) => string) => pgArray(batch.map(f));
    try {
      await db.execute(sql`
        INSERT INTO tls_rpt_results (day, policy_domain, policy_type, policy_string, mx_host, result_type, receiving_mx_hostname, receiving_ip, additional_info, sessions)
        SELECT * FROM unnest(${col((c) => c.day)}::date[], ${col((c) => c.result.policy.domain)}::text[], ${col((c) => c.result.policy.type)}::text[],
                             ${col((c) => c.result.policy.policyString)}::text[], ${col((c) => c.result.policy.mxHost)}::text[], ${col((c) => c.result.result)}::text[],
                             ${col((c) => c.result.mxHost ?? "")}::text[], ${col((c) => c.result.ip ?? "")}::text[],
                             ${col((c) => c.result.info ?? "")}::text[], ${pgArray(batch.map((c) => c.sessions))}::bigint[])
        ON CONFLICT (day, policy_domain, policy_type, policy_string, result_type, receiving_mx_hostname, receiving_ip)
        DO UPDATE SET sessions = tls_rpt_results.sessions + EXCLUDED.sessions, additional_info = EXCLUDED.additional_info, mx_host = EXCLUDED.mx_host`);
    } catch (err) {
      for (const c of batch) {
        const key = keyOf(c.day, c.result);
        const now = this.counts.get(key);
        if (now) now.sessions += c.sessions;
        else this.counts.set(key, c);
      }
      throw err;
    }
    return batch.reduce((n, c) => n + c.sessions, 0);
  }
}
