import { BlockList, isIP } from "node:net";

export interface NetworkList {
  contains(ip: string): boolean;
  /** Entries that could not be parsed (logged, never trusted). */
  invalid: string[];
}

/** Client addresses whose answer a list remembers; past it, it starts again. */
const MEMO_LIMIT = 4096;

/** "10.0.0.0/8, 192.168.1.7, ::1/128" → a matcher. IPv4-mapped IPv6 clients match IPv4 entries. */
export function parseNetworks(list: string): NetworkList {
  const blocks = new BlockList();
  const invalid: string[] = [];
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const [addr, prefixText, extra] = entry.split("/");
    const family = isIP(addr);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
      invalid.push(entry);
      continue;
    }
    blocks.addSubnet(addr, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  // BlockList.check builds socket-address objects on every call (it showed in profiles of busy
  // frontends); clients come from few addresses, so each one's answer is kept.
  const seen = new Map<string, boolean>();
  return {
    invalid,
    contains(ip: string): boolean {
      const known = seen.get(ip);
      if (known !== undefined) return known;
      const plain = unmapIpv4(ip);
      const family = isIP(plain);
      const inside = family !== 0 && blocks.check(plain, family === 4 ? "ipv4" : "ipv6");
      if (seen.size >= MEMO_LIMIT) seen.clear();
      seen.set(ip, inside);
      return inside;
    },
  };
}

/** "::ffff:10.1.2.3" → "10.1.2.3" (dual-stack listeners report IPv4 clients that way). */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}
