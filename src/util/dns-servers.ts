/** The dns_servers setting: a comma- or space-separated list. */
export function parseDnsServers(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
