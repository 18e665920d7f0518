import { classifyDnsError, type DnsResolver } from "../domain/dns.ts";
import type { Clock } from "../domain/types.ts";

export interface DnsCacheOptions {
  /** How long an answer is reused. node's resolveMx gives no TTL, so one bound for all. */
  answerMs: number;
  /** How long "no such name" / "no such record" is reused; temporary failures never are. */
  negativeMs: number;
  /** Entries kept; past it the cache starts again. */
  maxEntries: number;
}

export const DEFAULT_DNS_CACHE: DnsCacheOptions = { answerMs: 60_000, negativeMs: 10_000, maxEntries: 10_000 };

interface Entry {
  until: number;
  answer: Promise<unknown>;
}

/**
 * An in-process cache in front of a resolver, so a busy relay asks the DNS once a minute per
 * destination rather than once per message (the lookups were ~4% of a relaying frontend's
 * CPU). Concurrent questions for the same name share one lookup. Answers are kept for
 * `answerMs` (shorter than the TTL of nearly every MX record: a change is seen within a
 * minute), NXDOMAIN/NODATA for `negativeMs`, and a temporary failure not at all, so the next
 * attempt asks again.
 */
export function cachingResolver(inner: DnsResolver, clock: Clock, o: DnsCacheOptions = DEFAULT_DNS_CACHE): DnsResolver {
  const entries = new Map<string, Entry>();
  // Each caller gets its own copy of the list: the relay shuffles and sorts what it is given.
  const copy = <T>(answer: Promise<unknown>) => answer.then((x: unknown) => (Array.isArray(x) ? (x as unknown[]).slice() : x)) as Promise<T>;
  const ask = <T>(key: string, lookup: () => Promise<T>): Promise<T> => {
    const now = clock.now().getTime();
    const known = entries.get(key);
    if (known && known.until > now) return copy<T>(known.answer);
    if (entries.size >= o.maxEntries) entries.clear();
    // Until it settles, the lookup itself is the entry (shared by concurrent questions).
    const entry: Entry = { until: Number.POSITIVE_INFINITY, answer: lookup() };
    entries.set(key, entry);
    entry.answer.then(
      () => (entry.until = clock.now().getTime() + o.answerMs),
      (err: unknown) => {
        if (classifyDnsError(err) === "temporary") {
          if (entries.get(key) === entry) entries.delete(key);
        } else entry.until = clock.now().getTime() + o.negativeMs;
      },
    );
    return copy<T>(entry.answer);
  };
  return {
    resolveMx: (domain) => ask(`mx ${domain.toLowerCase()}`, () => inner.resolveMx(domain)),
    resolve4: (host) => ask(`a ${host.toLowerCase()}`, () => inner.resolve4(host)),
    resolve6: (host) => ask(`aaaa ${host.toLowerCase()}`, () => inner.resolve6(host)),
    resolveTxt: (name) => ask(`txt ${name.toLowerCase()}`, () => inner.resolveTxt(name)),
  };
}
