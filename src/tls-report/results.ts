/** RFC 8460 §4.3 result types we can observe (DANE's are for a later step). */
export type TlsFailureType =
  | "starttls-not-supported"
  | "certificate-host-mismatch"
  | "certificate-expired"
  | "certificate-not-trusted"
  | "validation-failure"
  | "sts-policy-fetch-error"
  | "sts-policy-invalid"
  | "sts-webpki-invalid";

/** The policy a session was judged by: the domain's MTA-STS policy, or none. */
export interface TlsReportPolicy {
  domain: string;
  type: "sts" | "no-policy-found";
  /** The policy file's lines joined by "\n"; "" without one. */
  policyString: string;
  /** The policy's mx patterns joined by ","; "" without one. */
  mxHost: string;
}

/** One session (or one MX skipped by an enforced policy) for TLS-RPT. */
export interface TlsSessionResult {
  policy: TlsReportPolicy;
  result: "success" | TlsFailureType;
  /** The MX host name and IP; only kept for failures (the report lists them per failure). */
  mxHost?: string;
  ip?: string;
  info?: string;
}

/** What the TLS of one SMTP session was: encrypted at all, and the certificate verdict for the host name. */
export interface SessionTls {
  encrypted: boolean;
  verified: boolean;
  /** Why it is not verified (RFC 8460 type), null when it is. */
  failure: TlsFailureType | null;
  /** The TLS library's reason (CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, ...). */
  detail: string | null;
}

/** Node's verification error codes → RFC 8460 result types. */
export function certificateFailure(code: string): TlsFailureType {
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || /HOSTNAME|ALTNAME/i.test(code)) return "certificate-host-mismatch";
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "certificate-expired";
  return "certificate-not-trusted";
}
