import type { AuthDnsResolver } from "../../src/dkim/resolver.ts";

/** TXT (and A) records from a table, for mailauth; a name without records is ENOTFOUND. Counts questions. */
export function fakeAuthDns(txt: Record<string, string[]>, a: Record<string, string[]> = {}): AuthDnsResolver & { questions: string[] } {
  const questions: string[] = [];
  const resolver = async (name: string, rrtype: string): Promise<string[][] | string[]> => {
    const key = name.toLowerCase().replace(/\.$/, "");
    questions.push(`${rrtype} ${key}`);
    if (rrtype === "TXT" && txt[key]) return txt[key].map((v) => splitTxt(v));
    if (rrtype === "A" && a[key]) return a[key];
    const known = txt[key] || a[key];
    throw Object.assign(new Error(`${known ? "ENODATA" : "ENOTFOUND"} ${name}`), { code: known ? "ENODATA" : "ENOTFOUND" });
  };
  return Object.assign(resolver, { questions });
}

/** As DNS returns a long TXT record: 255-octet strings, which verifiers join. */
function splitTxt(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}
