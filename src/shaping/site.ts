/**
 * What shaping needs of the relay's next hop and its resolved targets: the destination key
 * ("mx:example.org", "route:...", "forward:...") and the host names. Declared here, in the
 * leaf, so the relay's NextHop and Target fit them and shaping never imports src/relay.
 */
export interface ShapedHop {
  readonly destination: string;
}

export interface ShapedTarget {
  readonly name: string;
}

/**
 * The destination site a hop's connections count against. Domains served by the same MX hosts
 * (every domain hosted at one provider) are one site, whatever their names: the key is the
 * sorted set of MX host names, stable under the random order of equal preferences. Routes and
 * forwarders are their own sites: their destination already names the hosts.
 */
export function siteKey(hop: ShapedHop, targets: readonly ShapedTarget[]): string {
  if (!hop.destination.startsWith("mx:")) return hop.destination;
  const names = [...new Set(targets.map((t) => t.name.toLowerCase()))].sort();
  return names.length > 0 ? `mx:${names.join(",")}` : hop.destination;
}
