import type { TlsFailureType } from "./results.ts";

/** One row of tls_rpt_results for the day and domain being reported. */
export interface ResultRow {
  policyType: "sts" | "no-policy-found";
  policyString: string;
  mxHost: string;
  resultType: "success" | TlsFailureType;
  receivingMxHostname: string;
  receivingIp: string;
  additionalInfo: string;
  sessions: number;
}

export interface ReportInput {
  organization: string;
  contact: string;
  reportId: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  domain: string;
  rows: ResultRow[];
}

/** RFC 8460 §4.4's JSON (field names as the RFC spells them). */
export interface TlsReport {
  "organization-name": string;
  "date-range": { "start-datetime": string; "end-datetime": string };
  "contact-info": string;
  "report-id": string;
  policies: Array<{
    policy: { "policy-type": string; "policy-string"?: string[]; "policy-domain": string; "mx-host"?: string[] };
    summary: { "total-successful-session-count": number; "total-failure-session-count": number };
    "failure-details"?: Array<{
      "result-type": TlsFailureType;
      "receiving-mx-hostname"?: string;
      "receiving-ip"?: string;
      "failed-session-count": number;
      "additional-information"?: string;
    }>;
  }>;
}

/** The aggregate report of one policy domain for one UTC day: a policy entry per policy seen that day. */
export function buildTlsReport(r: ReportInput): TlsReport {
  const byPolicy = new Map<string, ResultRow[]>();
  for (const row of r.rows) {
    const key = `${row.policyType}\u0000${row.policyString}`;
    byPolicy.set(key, [...(byPolicy.get(key) ?? []), row]);
  }
  const policies: TlsReport["policies"] = [];
  for (const rows of byPolicy.values()) {
    const first = rows[0];
    const policy: TlsReport["policies"][number]["policy"] = { "policy-type": first.policyType, "policy-domain": r.domain };
    if (first.policyType === "sts" && first.policyString !== "") {
      policy["policy-string"] = first.policyString.split("\n");
      policy["mx-host"] = first.mxHost.split(",").filter((m) => m !== "");
    }
    const failures = rows.filter((x) => x.resultType !== "success");
    const entry: TlsReport["policies"][number] = {
      policy,
      summary: {
        "total-successful-session-count": sum(rows.filter((x) => x.resultType === "success")),
        "total-failure-session-count": sum(failures),
      },
    };
    if (failures.length > 0) {
      entry["failure-details"] = failures.map((f) => ({
        "result-type": f.resultType as TlsFailureType,
        ...(f.receivingMxHostname ? { "receiving-mx-hostname": f.receivingMxHostname } : {}),
        ...(f.receivingIp ? { "receiving-ip": f.receivingIp } : {}),
        "failed-session-count": f.sessions,
        ...(f.additionalInfo ? { "additional-information": f.additionalInfo } : {}),
      }));
    }
    policies.push(entry);
  }
  return {
    "organization-name": r.organization,
    "date-range": { "start-datetime": `${r.day}T00:00:00Z`, "end-datetime": `${r.day}T23:59:59Z` },
    "contact-info": r.contact,
    "report-id": r.reportId,
    policies,
  };
}

function sum(rows: ResultRow[]): number {
  return rows.reduce((n, x) => n + x.sessions, 0);
}

/**
 * The mailto: addresses of a domain's _smtp._tls record (RFC 8460 §3): "v=TLSRPTv1; rua=...".
 * https: endpoints are not supported yet and are skipped. Null when no TLSRPTv1 record is there.
 */
export function ruaMailtos(txt: string[][]): string[] | null {
  const records = txt.map((chunks) => chunks.join("")).filter((t) => /^v=TLSRPTv1\s*(;|$)/i.test(t.trim()));
  // RFC 8460 §3: more than one record means none.
  if (records.length !== 1) return null;
  const rua = records[0]
    .split(";")
    .map((p) => p.trim())
    .find((p) => /^rua\s*=/i.test(p));
  if (!rua) return [];
  return rua
    .replace(/^rua\s*=/i, "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => /^mailto:/i.test(u))
    .map((u) => decodeURIComponent(u.slice("mailto:".length).split("?")[0]))
    .filter((a) => /^[^@\s]+@[^@\s]+$/.test(a));
}
