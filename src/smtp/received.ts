export interface ReceivedInfo {
  helo: string | null;
  clientHostname: string | null;
  clientAddress: string;
  byHost: string;
  /** ESMTP, ESMTPS, ESMTPSA... (RFC 3848) */
  protocol: string;
  /** e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"; null for cleartext. */
  tls: string | null;
  authenticatedUser: string | null;
  /** Frontend transaction id (the queue id exists only after the commit, see data.ts). */
  id: string;
  /** Named only when there is exactly one (several would disclose Bcc recipients). */
  recipient: string | null;
  date: Date;
}

/** RFC 5321 4.4 trace header, folded, ending in CRLF. */
export function receivedHeader(r: ReceivedInfo): string {
  const from = `from ${clean(r.helo ?? "unknown")} (${clean(r.clientHostname ?? "unknown")} [${clean(r.clientAddress)}])`;
  const lines = [`Received: ${from}`];
  if (r.authenticatedUser) lines.push(`\t(authenticated as ${clean(r.authenticatedUser)})`);
  lines.push(`\tby ${clean(r.byHost)} (mailcluster) with ${r.protocol} id ${r.id}`);
  if (r.tls) lines.push(`\t(using ${clean(r.tls)})`);
  if (r.recipient) lines.push(`\tfor <${clean(r.recipient)}>`);
  lines[lines.length - 1] += `; ${rfc5322Date(r.date)}`;
  return lines.join("\r\n") + "\r\n";
}

// Client-supplied values must not break the header: no control characters, no parentheses games.
function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f()]/g, "?").slice(0, 256);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function rfc5322Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
