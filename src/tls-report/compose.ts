import { gzipSync } from "node:zlib";
import type { TlsReport } from "./report.ts";

export interface ReportMailInput {
  report: TlsReport;
  domain: string;
  /** The reporting organization's domain (TLS-Report-Submitter). */
  submitter: string;
  from: string;
  to: string[];
  date: Date;
  /** Unique part of the Message-ID and MIME boundary. */
  unique: string;
}

function base64Lines(data: Buffer): string {
  return (data.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

/**
 * The report mail of RFC 8460 §5.3: multipart/report; report-type="tlsrpt" with a short text
 * part and the gzipped JSON as application/tlsrpt+gzip, named
 * submitter!policy-domain!begin!end!unique.json.gz (begin and end in Unix seconds).
 */
export function composeReportMail(m: ReportMailInput): { content: Buffer; gzip: Buffer; filename: string } {
  const json = Buffer.from(JSON.stringify(m.report), "utf8");
  const gzip = gzipSync(json);
  const begin = Math.floor(Date.parse(m.report["date-range"]["start-datetime"]) / 1000);
  const end = Math.floor(Date.parse(m.report["date-range"]["end-datetime"]) / 1000) + 1;
  const filename = `${m.submitter}!${m.domain}!${begin}!${end}!${m.unique}.json.gz`;
  const boundary = `tlsrpt-${m.unique}`;
  const day = m.report["date-range"]["start-datetime"].slice(0, 10);
  const text = [
    `This is an aggregate TLS report (RFC 8460) from ${m.report["organization-name"]} for ${m.domain},`,
    `covering ${day} (UTC). The report is attached as gzipped JSON.`,
  ].join("\r\n");
  const lines = [
    `From: ${m.from}`,
    `To: ${m.to.join(", ")}`,
    `Date: ${m.date.toUTCString().replace("GMT", "+0000")}`,
    `Subject: Report Domain: ${m.domain} Submitter: ${m.submitter} Report-ID: <${m.report["report-id"]}>`,
    `Message-ID: <tlsrpt.${m.unique}@${m.submitter}>`,
    `TLS-Report-Domain: ${m.domain}`,
    `TLS-Report-Submitter: ${m.submitter}`,
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
    "",
    text,
    "",
    `--${boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${filename}"`,
    "Content-Transfer-Encoding: base64",
    `Content-Disposition: attachment; filename="${filename}"`,
    "",
    base64Lines(gzip),
    "",
    `--${boundary}--`,
    "",
  ];
  return { content: Buffer.from(lines.join("\r\n"), "utf8"), gzip, filename };
}
