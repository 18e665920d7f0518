import { isIP } from "node:net";
import type { Executor } from "../db/db.ts";
import type { Clock } from "../domain/types.ts";
import { liveMembers } from "../cluster/members.ts";
import { parseNetworks, unmapIpv4, type NetworkList } from "./cidr.ts";

export type RelayGrant = "authenticated" | "trusted-network" | "cluster-member";

export interface RelayClient {
  address: string;
  authenticatedUser: string | null;
}

export interface RelayPolicyOptions {
  db: Executor;
  clock: Clock;
  trustedNetworks: () => string;
  memberTimeoutSeconds: () => number;
  /** How long the live members' addresses are reused before the members table is read again. */
  memberCacheMs?: number;
  onInvalidNetwork?: (entries: string[]) => void;
}

/**
 * Who may send mail to domains that are not ours: authenticated users, trusted networks (the
 * trusted_networks setting) and live cluster members (backends hand remote mail to a frontend).
 * Everybody else gets 554 5.7.1: no open relay.
 */
export class RelayPolicy {
  private networks: { source: string; list: NetworkList } | null = null;
  private members: { at: number; ips: Set<string> } | null = null;

  constructor(private readonly o: RelayPolicyOptions) {}

  async grant(client: RelayClient): Promise<RelayGrant | null> {
    if (client.authenticatedUser) return "authenticated";
    if (this.trusted().contains(client.address)) return "trusted-network";
    if ((await this.memberAddresses()).has(unmapIpv4(client.address))) return "cluster-member";
    return null;
  }

  private trusted(): NetworkList {
    const source = this.o.trustedNetworks();
    if (this.networks?.source !== source) {
      const list = parseNetworks(source);
      if (list.invalid.length > 0) this.o.onInvalidNetwork?.(list.invalid);
      this.networks = { source, list };
    }
    return this.networks.list;
  }

  private async memberAddresses(): Promise<Set<string>> {
    const now = this.o.clock.now().getTime();
    if (this.members && now - this.members.at < (this.o.memberCacheMs ?? 5000)) return this.members.ips;
    const ips = new Set<string>();
    for (const m of await liveMembers(this.o.db, this.o.clock.now(), this.o.memberTimeoutSeconds())) {
      for (const host of [hostOfEndpoint(m.smtpEndpoint), hostOfUrl(m.httpUrl)]) {
        // Only literal, specific addresses count: a member bound to 0.0.0.0 says nothing about its source IP.
        if (host && isIP(host) && host !== "0.0.0.0" && host !== "::") ips.add(unmapIpv4(host));
      }
    }
    this.members = { at: now, ips };
    return ips;
  }
}

function hostOfEndpoint(endpoint: string | null): string | null {
  if (!endpoint) return null;
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(endpoint);
  if (bracketed) return bracketed[1];
  const at = endpoint.lastIndexOf(":");
  return at > 0 && endpoint.indexOf(":") === at ? endpoint.slice(0, at) : endpoint;
}

function hostOfUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return null;
  }
}
