import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { num, queryRows, str, ts } from "../db/rows.ts";
import { postmasterAddress } from "../dsn/generate.ts";
import { submitMemberMail } from "../member-mail/submit.ts";
import { classifyDnsError, type DnsResolver } from "../domain/dns.ts";
import { coerceError } from "../util/errors.ts";
import { composeReportMail } from "./compose.ts";
import { utcDay } from "./recorder.ts";
import { buildTlsReport, type ResultRow, ruaMailtos } from "./report.ts";
import type { TlsFailureType } from "./results.ts";

/** A day is reported once it has been over this long (members flush their counts every minute). */
const REPORT_DELAY_MS = 30 * 60_000;
/** Counts and report markers older than this are deleted. */
const KEEP_DAYS = 30;

export interface TlsReportPassSummary {
  sent: number;
  /** Day and domain pairs with nowhere to send (no _smtp._tls record, no mailto: rua). */
  noRua: number;
  /** Left for a later pass: DNS failed temporarily. */
  postponed: number;
}

/**
 * The daily TLS-RPT pass (RFC 8460 §5): for each finished UTC day and policy domain with counts,
 * its aggregate report goes to the mailto: rua of the domain's _smtp._tls record, as
 * member-made mail through the queue. Every member runs it; the report marker row is inserted
 * in the same transaction as the message, so exactly one member sends each report (a second
 * one waits on the marker's key and then finds it taken).
 */
export async function runTlsReportPass(ctx: AppContext, resolver: DnsResolver, o: { limit?: number } = {}): Promise<TlsReportPassSummary> {
  const summary: TlsReportPassSummary = { sent: 0, noRua: 0, postponed: 0 };
  const now = ctx.clock.now();
  const cutoff = utcDay(new Date(now.getTime() - REPORT_DELAY_MS));
  const candidates = await queryRows(
    ctx.db,
    sql`SELECT DISTINCT r.day::text AS day, r.policy_domain FROM tls_rpt_results r
        WHERE r.day < ${cutoff}::date
          AND NOT EXISTS (SELECT 1 FROM tls_rpt_reports p WHERE p.day = r.day AND p.policy_domain = r.policy_domain)
        ORDER BY 1, 2 LIMIT ${o.limit ?? 200}`,
  );
  for (const c of candidates) {
    const day = str(c.day);
    const domain = str(c.policy_domain);
    let rua: string[] | null;
    try {
      rua = ruaMailtos(await resolver.resolveTxt(`_smtp._tls.${domain}`));
    } catch (err) {
      if (classifyDnsError(err) === "temporary") {
        summary.postponed += 1;
        continue;
      }
      rua = null;
    }
    try {
      const outcome = await reportOne(ctx, day, domain, rua ?? []);
      if (outcome === "sent") summary.sent += 1;
      if (outcome === "no-rua") summary.noRua += 1;
    } catch (err) {
      ctx.logger.warn({ err: coerceError(err).message, day, domain }, "TLS report failed; retried on the next pass");
    }
  }
  const oldest = utcDay(new Date(now.getTime() - KEEP_DAYS * 86400_000));
  await ctx.db.execute(sql`DELETE FROM tls_rpt_results WHERE day < ${oldest}::date`);
  await ctx.db.execute(sql`DELETE FROM tls_rpt_reports WHERE day < ${oldest}::date`);
  return summary;
}

async function reportOne(ctx: AppContext, day: string, domain: string, rua: string[]): Promise<"sent" | "no-rua" | "taken"> {
  const now = ctx.clock.now();
  const unique = `${day.replace(/-/g, "")}.${Math.floor(ctx.random.next() * 2 ** 32).toString(36)}`;
  const submitter = ctx.config.hostname;
  const reportId = `${unique}.${domain}@${submitter}`;
  return ctx.db.transaction(async (tx) => {
    const status = rua.length > 0 ? "sent" : "no-rua";
    const marked = await queryRows(
      tx,
      sql`INSERT INTO tls_rpt_reports (day, policy_domain, report_id, status, rua, created_at)
          VALUES (${day}::date, ${domain}, ${reportId}, ${status}, ${rua.join(",")}, ${ts(now)})
          ON CONFLICT DO NOTHING RETURNING day`,
    );
    if (marked.length === 0) return "taken";
    if (rua.length === 0) return "no-rua";
    const rows = await queryRows(
      tx,
      sql`SELECT policy_type, policy_string, mx_host, result_type, receiving_mx_hostname, receiving_ip, additional_info, sessions
          FROM tls_rpt_results WHERE day = ${day}::date AND policy_domain = ${domain}
          ORDER BY policy_type, policy_string, result_type, receiving_mx_hostname, receiving_ip`,
    );
    const resultRows: ResultRow[] = rows.map((r) => ({
      policyType: str(r.policy_type) === "sts" ? "sts" : "no-policy-found",
      policyString: str(r.policy_string),
      mxHost: str(r.mx_host),
      resultType: str(r.result_type) as "success" | TlsFailureType,
      receivingMxHostname: str(r.receiving_mx_hostname),
      receivingIp: str(r.receiving_ip),
      additionalInfo: str(r.additional_info),
      sessions: num(r.sessions),
    }));
    const from = postmasterAddress(ctx);
    const report = buildTlsReport({ organization: ctx.settings().tls_rpt_organization.trim() || submitter, contact: from, reportId, day, domain, rows: resultRows });
    const mail = composeReportMail({ report, domain, submitter, from, to: rua, date: now, unique });
    // RFC 8460 §5.3: reports are DKIM-signed, here with the From domain's key when it has one.
    const signAs = from.slice(from.lastIndexOf("@") + 1) || null;
    const result = await submitMemberMail(ctx, { envelope: { sender: from, recipients: rua.map((address) => ({ address })) }, content: mail.content, signAs, kind: "generated", now }, tx);
    await tx.execute(sql`UPDATE tls_rpt_reports SET message_id = ${result.messageId} WHERE day = ${day}::date AND policy_domain = ${domain}`);
    ctx.logger.info({ day, domain, rua, messageId: result.messageId, reportId }, "TLS report submitted");
    return "sent";
  });
}
