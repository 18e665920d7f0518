import { smtpError, type SmtpHookError } from "./reply.ts";

export interface CheckedAddress {
  address: string;
  domain: string;
  /** user@[192.0.2.1]: never one of our domains, so only relaying clients may use it. */
  ipLiteral: boolean;
}

/** RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets, so the address 254. */
const MAX_PATH = 254;
const MAX_LOCAL = 64;
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * What smtp-server's parser lets through, checked further: non-ASCII only with SMTPUTF8
 * (RFC 6531), lengths (RFC 5321 4.5.3.1), a real domain or address literal. Source routes are
 * already stripped by the parser (RFC 5321 4.1.1.3 says ignore them), quoted local parts with
 * "@" and trailing dots are refused by it with 501.
 */
export function checkAddress(address: string, role: "sender" | "recipient", smtpUtf8: boolean): CheckedAddress | SmtpHookError {
  const syntax = role === "sender" ? "5.1.7" : "5.1.3";
  // The connection rewrites it to the primary domain's postmaster (connection.ts); still here means there is none.
  if (role === "recipient" && isDomainlessPostmaster(address)) return smtpError(550, "5.1.1", "no primary domain for <postmaster> here (set primary_domain)");
  if (NON_ASCII.test(address) && !smtpUtf8) return smtpError(553, "5.6.7", "non-ASCII address requires the SMTPUTF8 parameter");
  if (Buffer.byteLength(address) > MAX_PATH) return smtpError(553, syntax, `address longer than ${MAX_PATH} octets`);
  const at = address.lastIndexOf("@");
  if (at <= 0) return smtpError(553, syntax, "address must be local-part@domain");
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (Buffer.byteLength(local) > MAX_LOCAL) return smtpError(553, syntax, `local part longer than ${MAX_LOCAL} octets`);
  if (domain.startsWith("[")) {
    if (!/^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9a-f:.]+)\]$/i.test(domain)) return smtpError(553, syntax, "bad address literal");
    return { address, domain: domain.toLowerCase(), ipLiteral: true };
  }
  const labels = domain.split(".");
  const labelOk = (l: string) => ASCII_LABEL.test(l) || (smtpUtf8 && NON_ASCII.test(l) && !/[\s@.,;:<>()[\]\\"]/.test(l) && l.length <= 63);
  if (labels.length < 2 || !labels.every(labelOk)) return smtpError(553, syntax, `bad domain "${domain}"`);
  return { address, domain: domain.toLowerCase(), ipLiteral: false };
}

/** `RCPT TO:<postmaster>` without a domain, which RFC 5321 4.5.1 says MUST be accepted. */
export function isDomainlessPostmaster(address: string): boolean {
  return address.toLowerCase() === "postmaster";
}

/**
 * Where the domainless postmaster goes: postmaster@ the primary domain, which is the
 * primary_domain setting, else the member's host name or its parent domain, whichever is a
 * local domain. Null when none of them is (an installation without its own domain).
 */
export function primaryPostmaster(o: { primaryDomain: string; hostname: string; isLocalDomain: (domain: string) => boolean }): string | null {
  const configured = o.primaryDomain.trim().toLowerCase();
  if (configured !== "") return `postmaster@${configured}`;
  const host = o.hostname.toLowerCase().replace(/\.$/, "");
  for (const candidate of [host, host.slice(host.indexOf(".") + 1)]) {
    if (candidate.includes(".") && o.isLocalDomain(candidate)) return `postmaster@${candidate}`;
  }
  return null;
}

export function isAddressError(v: CheckedAddress | SmtpHookError): v is SmtpHookError {
  return v instanceof Error;
}

const MAIL_PARAMS = new Set(["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"]);
const RCPT_PARAMS = new Set(["NOTIFY", "ORCPT"]);

/** Unknown ESMTP parameters get 555 5.5.4 (RFC 5321 4.1.1.11) instead of being ignored. */
export function checkParams(args: Record<string, string | true> | false, command: "MAIL" | "RCPT"): SmtpHookError | null {
  if (!args) return null;
  const allowed = command === "MAIL" ? MAIL_PARAMS : RCPT_PARAMS;
  for (const key of Object.keys(args)) {
    if (!allowed.has(key)) return smtpError(555, "5.5.4", `unsupported ${command} parameter ${key}`);
  }
  // RFC 3461 4.4 and 4.2: ENVID at most 100 characters, ORCPT at most 500.
  const envid = args.ENVID;
  if (typeof envid === "string" && envid.length > 100) return smtpError(501, "5.5.4", "ENVID longer than 100 characters");
  const orcpt = args.ORCPT;
  if (typeof orcpt === "string" && orcpt.length > 500) return smtpError(501, "5.5.4", "ORCPT longer than 500 characters");
  return null;
}
