import type { SmtpReply } from "../domain/types.ts";
import { mxMatches } from "../mta-sts/policy.ts";
import type { SessionTls, TlsSessionResult } from "../tls-report/results.ts";
import { TlsVerifyError } from "./connection-pool.ts";
import type { HopSts } from "./next-hop.ts";
import { localReply } from "../domain/smtp-reply.ts";
import type { Target } from "./targets.ts";

/**
 * An MX host an enforced MTA-STS policy does not list: the relay does not connect to it
 * (RFC 8461 §5: deliver only to MX hosts matching the policy) and tries the next.
 */
export function stsRefusesHost(sts: HopSts | null, target: Target): SmtpReply | null {
  if (!sts || sts.mode !== "enforce" || mxMatches(target.name, sts.mx)) return null;
  return localReply(451, "4.7.5", `MTA-STS policy of ${sts.report.domain} (enforce) does not list MX host ${target.name} (mx: ${sts.mx.join(", ")})`);
}

/** The deferral for a session that had to verify and did not (route verify, MTA-STS enforce). */
export function verifyFailureReply(err: unknown, tls: string, sts: HopSts | null): SmtpReply | null {
  const why = sts?.mode === "enforce" ? ` (MTA-STS policy of ${sts.report.domain}: enforce)` : "";
  if (err instanceof TlsVerifyError) return localReply(451, "4.7.5", `${err.message}${why}`);
  // STARTTLS refused or failed where it was required with verification.
  if (tls === "verify" && err instanceof Error && "code" in err && err.code === "ETLS") return localReply(451, "4.7.5", `TLS required with a verified certificate, but: ${err.message}${why}`);
  return null;
}

/**
 * How one session counts for TLS-RPT (RFC 8460): under an MTA-STS policy a success needs TLS,
 * a verified certificate and a listed MX; without a policy, TLS alone. A policy that could not
 * be fetched makes every session a failure of that type. Null: not a TLS result (the
 * connection failed before TLS came into it).
 */
export function judgeSession(sts: HopSts, target: Target, tls: SessionTls | null, err: unknown): TlsSessionResult | null {
  const base = { policy: sts.report, mxHost: target.name, ip: target.address };
  if (sts.fetchError) return { ...base, result: sts.fetchError.type, info: sts.fetchError.error.slice(0, 300) };
  if (err instanceof TlsVerifyError) return { ...base, result: err.failure, info: err.detail };
  if (err !== null && err !== undefined) {
    const code = err instanceof Error && "code" in err ? String(err.code) : "";
    if (code !== "ETLS") return null;
    const message = err instanceof Error ? err.message : "TLS failed";
    return { ...base, result: /upgrading connection|STARTTLS/i.test(message) && !/initiating/i.test(message) ? "starttls-not-supported" : "validation-failure", info: message.slice(0, 300) };
  }
  if (!tls) return null;
  if (sts.report.type === "sts") {
    if (!mxMatches(target.name, sts.mx)) return { ...base, result: "validation-failure", info: `MX host not listed in the policy (mx: ${sts.mx.join(", ")})` };
    if (!tls.encrypted) return { ...base, result: "starttls-not-supported" };
    if (!tls.verified) return { ...base, result: tls.failure ?? "validation-failure", info: tls.detail ?? "" };
    return { policy: sts.report, result: "success" };
  }
  return tls.encrypted ? { policy: sts.report, result: "success" } : { ...base, result: "starttls-not-supported" };
}
