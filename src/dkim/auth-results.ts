import { Readable } from "node:stream";
import { authenticate } from "mailauth";
import type { AuthDnsResolver } from "./resolver.ts";

export interface InboundAuthInput {
  /** The message as received, in parts (not concatenated here). */
  parts: readonly Uint8Array[];
  /** Client IP, HELO name and MAIL FROM (SPF checks MAIL FROM, and HELO for the null sender). */
  ip: string;
  helo: string | null;
  sender: string;
  /** RFC 8601 authserv-id: who vouches for the results (the member host name or primary_domain). */
  authservId: string;
  resolver: AuthDnsResolver;
  timeoutMs: number;
}

export interface InboundAuthResult {
  /** The Authentication-Results field, CRLF-terminated. */
  header: string;
  dkim: string;
  spf: string;
  dmarc: string;
  timedOut: boolean;
}

/**
 * DKIM, SPF and DMARC (and ARC, which is informational) by mailauth, recorded as one
 * Authentication-Results field. Nothing is rejected here. After timeoutMs the field says
 * temperror for everything: DATA must not wait on a slow resolver (mailauth's own queries
 * go on in the background and their answers are dropped).
 */
export async function inboundAuthResults(input: InboundAuthInput): Promise<InboundAuthResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), input.timeoutMs);
  });
  const work = authenticate(Readable.from(input.parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))), {
    ip: input.ip,
    helo: input.helo ?? undefined,
    sender: input.sender,
    mta: input.authservId,
    resolver: input.resolver,
    disableBimi: true,
  });
  try {
    const r = await Promise.race([work, timeout]);
    if (!r) {
      work.catch(() => {});
      const reason = "(verification timed out)";
      return {
        header: `Authentication-Results: ${input.authservId};\r\n dkim=temperror ${reason};\r\n spf=temperror ${reason};\r\n dmarc=temperror ${reason}\r\n`,
        dkim: "temperror",
        spf: "temperror",
        dmarc: "temperror",
        timedOut: true,
      };
    }
    const at = r.headers.indexOf("Authentication-Results:");
    const dkim = r.dkim.results.length === 0 ? "none" : r.dkim.results.some((x) => x.status.result === "pass") ? "pass" : r.dkim.results[0].status.result;
    return {
      header: at >= 0 ? r.headers.slice(at) : `Authentication-Results: ${input.authservId}; none\r\n`,
      dkim,
      spf: r.spf ? r.spf.status.result : "none",
      dmarc: r.dmarc ? r.dmarc.status.result : "none",
      timedOut: false,
    };
  } finally {
    clearTimeout(timer);
  }
}
