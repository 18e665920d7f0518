import type { NextHop } from "../relay/next-hop.ts";
import type { Target } from "../relay/targets.ts";

/**
 * The destination site a hop's connections count against. Domains served by the same MX hosts
 * (every domain hosted at one provider) are one site, whatever their names: the key is the
 * sorted set of MX host names, stable under the random order of equal preferences. Routes and
 * forwarders are their own sites: their destination already names the hosts.
 */
export function siteKey(hop: NextHop, targets: readonly Target[]): string {
  if (!hop.destination.startsWith("mx:")) return hop.destination;
  const names = [...new Set(targets.map((t) => t.name.toLowerCase()))].sort();
  return names.length > 0 ? `mx:${names.join(",")}` : hop.destination;
}
