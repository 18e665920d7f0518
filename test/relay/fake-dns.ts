import { dnsError, type DnsResolver, type MxRecord } from "../../src/domain/dns.ts";

type Answer<T> = T | "SERVFAIL" | "TIMEOUT";

export interface FakeZoneEntry {
  mx?: Answer<MxRecord[]>;
  a?: Answer<string[]>;
  aaaa?: Answer<string[]>;
  /** TXT records, each one string (split into 255-byte chunks is not needed here). */
  txt?: Answer<string[]>;
}

/**
 * An injected resolver answering from a table: a name not in it is NXDOMAIN (ENOTFOUND), a
 * record type it lacks is ENODATA, "SERVFAIL"/"TIMEOUT" fail temporarily. Counts questions.
 */
export function fakeDns(zone: Record<string, FakeZoneEntry>): DnsResolver & { questions: string[] } {
  const questions: string[] = [];
  const ask = async <T>(name: string, type: "mx" | "a" | "aaaa" | "txt"): Promise<T> => {
    questions.push(`${type} ${name}`);
    const entry = zone[name.toLowerCase()];
    if (!entry) throw dnsError("ENOTFOUND", name);
    const answer = entry[type] as Answer<T> | undefined;
    if (answer === undefined) throw dnsError("ENODATA", name);
    if (answer === "SERVFAIL") throw dnsError("ESERVFAIL", name);
    if (answer === "TIMEOUT") throw dnsError("ETIMEOUT", name);
    return answer;
  };
  return {
    questions,
    resolveMx: (d) => ask<MxRecord[]>(d, "mx"),
    resolve4: (h) => ask<string[]>(h, "a"),
    resolve6: (h) => ask<string[]>(h, "aaaa"),
    resolveTxt: async (n) => (await ask<string[]>(n, "txt")).map((t) => [t]),
  };
}
