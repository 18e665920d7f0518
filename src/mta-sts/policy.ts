import { parsePolicy, resolvePolicy, validateMx } from "mailauth/lib/mta-sts.js";
import type { DnsResolver } from "../domain/dns.ts";

/** A fetched MTA-STS policy (RFC 8461 §3.2) of one recipient domain. */
export interface StsPolicy {
  domain: string;
  /** id= of the _mta-sts TXT record it was fetched for. */
  txtId: string;
  mode: "enforce" | "testing" | "none";
  /** mx patterns: host names or "*.example.org". */
  mx: string[];
  maxAge: number;
  /** The policy file as served (TLS-RPT's policy-string). */
  text: string;
  expiresAt: Date;
}

export class StsPolicyError extends Error {
  override name = "StsPolicyError";
}

/** The policy file's fields, checked by mailauth (version, mode, max_age, mx). Throws StsPolicyError. */
export function parseStsPolicy(text: string): { mode: StsPolicy["mode"]; mx: string[]; maxAge: number } {
  try {
    const p = parsePolicy(text);
    return { mode: p.mode, mx: p.mx ?? [], maxAge: p.maxAge ?? 0 };
  } catch (err) {
    throw new StsPolicyError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Whether an MX host name matches the policy's mx patterns (RFC 8461 §4.1). mailauth does the
 * matching; a wildcard also matches deeper names there, so "*.example.org" is held to exactly
 * one label more here, as the RFC says.
 */
export function mxMatches(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((pattern) => {
    if (!validateMx(name, { mode: "enforce", mx: [pattern] }).valid) return false;
    if (!pattern.startsWith("*.")) return true;
    const label = name.slice(0, name.length - (pattern.length - 1));
    return label !== "" && !label.includes(".");
  });
}

/**
 * The id= of the domain's _mta-sts TXT record (mailauth's discovery, on our injected DNS): a
 * string, false when there is none, or a thrown error when DNS failed or there are several.
 */
export async function stsRecordId(resolver: DnsResolver, domain: string): Promise<string | false> {
  const id = await resolvePolicy(domain, {
    resolver: async (name: string, rrtype: string) => {
      if (rrtype !== "TXT") throw Object.assign(new Error(`unexpected ${rrtype} lookup`), { code: "ENOTIMP" });
      return resolver.resolveTxt(name);
    },
  });
  return typeof id === "string" && id !== "" ? id : false;
}
