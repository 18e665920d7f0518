// Bounce classification: what kind of trouble a remote reply reports, for suppression,
// traffic shaping (rate limits) and the operators' figures. Pure and a leaf: it imports nothing.

export const BOUNCE_CLASSES = ["bad_mailbox", "mailbox_full", "policy", "dns", "tls", "rate_limited", "other"] as const;
export type BounceClass = (typeof BOUNCE_CLASSES)[number];

/** The parts of an SMTP reply the classification reads (structurally an SmtpReply). */
export interface ReplyToClassify {
  code: number;
  enhanced: string | null;
  text: string;
}

export function isBounceClass(s: string): s is BounceClass {
  return (BOUNCE_CLASSES as readonly string[]).includes(s);
}

/**
 * Enhanced status codes (RFC 3463 and the IANA registry, plus the big providers' usage) that
 * say by themselves what went wrong; the key leaves out the class digit, so 4.2.2 and 5.2.2
 * share "2.2". Codes that are generic (x.0.0, x.1.0, x.7.0 …) are absent: their text decides.
 */
const BY_STATUS: ReadonlyMap<string, BounceClass> = new Map<string, BounceClass>([
  ["1.1", "bad_mailbox"], // bad destination mailbox address
  ["1.3", "bad_mailbox"], // bad destination mailbox address syntax
  ["1.6", "bad_mailbox"], // destination mailbox has moved, no forwarding address
  ["1.10", "bad_mailbox"], // Exchange Online "RecipientNotFound" (RFC 7505 null MX shares it)
  ["1.7", "other"], // bad sender address syntax: about us, never the recipient's mailbox
  ["1.8", "other"], // bad sender's system address
  ["1.2", "dns"], // bad destination system address
  ["4.3", "dns"], // directory server failure (DNS)
  ["4.4", "dns"], // unable to route
  ["2.2", "mailbox_full"], // mailbox full
  ["7.4", "tls"], // security features not supported
  ["7.5", "tls"], // cryptographic failure
  ["7.10", "tls"], // encryption needed
  ["7.11", "tls"], // encryption required for requested authentication mechanism
  ["7.28", "rate_limited"], // Gmail: unusual rate of mail, temporarily rate limited
]);

/** When the code alone says nothing specific, these per-code defaults apply after the text. */
const FALLBACK_BY_STATUS: ReadonlyMap<string, BounceClass> = new Map<string, BounceClass>([
  ["5.2.1", "bad_mailbox"], // mailbox disabled, not accepting messages
]);

// Text rules, in order: the first match wins. Every pattern is a plain alternation with
// bounded gaps, so none can backtrack badly on a long hostile reply text.
const TEXT_RULES: ReadonlyArray<readonly [BounceClass, RegExp]> = [
  [
    "bad_mailbox",
    /\b(?:user|recipient|mailbox|account)\b[^.;]{0,40}?\b(?:unknown|not found|does ?n[o']t exist|no longer (?:exists|active|valid)|invalid|disabled|deactivated)\b|\bno such (?:user|mailbox|recipient|account|address)\b|\bunknown (?:user|recipient|mailbox|account)\b|\bundeliverable address\b|\bbad (?:recipient|destination mailbox)\b/i,
  ],
  ["mailbox_full", /\bquota\b|\bmailbox (?:is )?full\b|\bover ?quota\b|\binsufficient (?:storage|space)\b|\bstorage (?:space )?(?:exceeded|allocation)\b|\bmailbox size limit\b/i],
  ["dns", /\bnxdomain\b|\bhost (?:or domain name )?not found\b|\bno (?:mx|mail exchanger|address) (?:record|for)\b|\bdomain (?:name )?(?:not found|does ?n[o']t exist)\b|\bdns\b|\bnull mx\b/i],
  ["tls", /\bstarttls\b|\btls\b|\bssl\b|\bcertificate\b|\bhandshake\b/i],
  ["rate_limited", /\brate[ -]?limit|\btoo many (?:connections|messages|recipients|mails?|sessions|requests|concurrent)\b|\btry (?:again )?later\b|\bthrottl|\bslow down\b|\bsending rate\b|\bexceeded (?:the )?(?:rate|limit)|\bunusual rate\b/i],
  ["policy", /\bspam\b|\bblock(?:ed|list|listed)?\b|\bblacklist|\bdenylist|\bpolicy\b|\breputation\b|\bspf\b|\bdkim\b|\bdmarc\b|\bspamhaus\b|\brbl\b|\bdnsbl\b|\babuse\b|\bprohibited\b|\bnot (?:allowed|permitted|authori[sz]ed)\b|\brelay(?:ing)? (?:access )?denied\b|\baccess denied\b/i],
];

/** Text classification: the first rule that matches, or null. */
function classifyText(text: string): BounceClass | null {
  // Only the start of the text is read: real replies are short and a limit keeps matching cheap.
  const t = text.length > 2000 ? text.slice(0, 2000) : text;
  for (const [cls, re] of TEXT_RULES) if (re.test(t)) return cls;
  return null;
}

/**
 * The class of a non-2xx reply: rules from the enhanced status first (specific codes decide
 * alone), then text patterns, then the generic meaning of the code's subject (x.7.x policy).
 * A 2xx reply is not a bounce; callers record no class for it (see bounceClassOf).
 */
export function classifyReply(reply: ReplyToClassify): BounceClass {
  const status = reply.enhanced && /^[245]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced) ? reply.enhanced : null;
  const detail = status ? status.slice(2) : null;
  if (detail) {
    const direct = BY_STATUS.get(detail);
    if (direct) return direct;
  }
  const byText = classifyText(reply.text);
  if (byText) {
    // A security/policy status (x.7.x) stays policy when the text talks about the mailbox or
    // DNS (often "reverse DNS" or "unknown sender"); text naming a rate limit or TLS refines it
    // (Gmail's "421 4.7.0 Try again later", Microsoft's "451 4.7.500 Server busy, try again later").
    if (detail && detail.startsWith("7.") && (byText === "bad_mailbox" || byText === "mailbox_full" || byText === "dns")) return "policy";
    return byText;
  }
  if (status) {
    const fallback = FALLBACK_BY_STATUS.get(status);
    if (fallback) return fallback;
  }
  if (detail && detail.startsWith("7.")) return "policy";
  return "other";
}

/** The class recorded on an attempt: none for a delivery, else the reply's class. */
export function bounceClassOf(outcome: { kind: "delivered" | "deferred" | "failed"; reply: ReplyToClassify }): BounceClass | null {
  return outcome.kind === "delivered" ? null : classifyReply(outcome.reply);
}
