import { isIP } from "node:net";
import type { MemberRow } from "../cluster/members.ts";
import { isMemberUser } from "../cluster/member-credentials.ts";
import type { RelayClient, RelayGrant, RelayGrants } from "../domain/relay-grant.ts";
import { parseNetworks, unmapIpv4, type NetworkList } from "./cidr.ts";

export interface RelayPolicyOptions {
  trustedNetworks: () => string;
  /** Live members as of the last heartbeat (the ClusterView); read only when member addresses are trusted. */
  liveMembers: () => readonly MemberRow[];
  /** The relay_trust_member_addresses setting: let live members' IPs relay without AUTH. */
  trustMemberAddresses: () => boolean;
  onInvalidNetwork?: (entries: string[]) => void;
}

/**
 * Who may send mail to domains that are not ours: authenticated users, other members that
 * authenticated with credentials from the cluster secret (the forwarding "*" hand-off),
 * trusted networks (the trusted_networks setting), and, only when relay_trust_member_addresses
 * is on, any connection from a live member's IP address. Everybody else gets 554 5.7.1: no open relay.
 */
export class RelayPolicy implements RelayGrants {
  private networks: { source: string; list: NetworkList } | null = null;
  private members: { rows: readonly MemberRow[]; ips: Set<string> } | null = null;

  constructor(private readonly o: RelayPolicyOptions) {}

  async grant(client: RelayClient): Promise<RelayGrant | null> {
    if (client.authenticatedUser) return isMemberUser(client.authenticatedUser) ? "cluster-member" : "authenticated";
    if (this.trusted().contains(client.address)) return "trusted-network";
    if (this.o.trustMemberAddresses() && this.memberAddresses().has(unmapIpv4(client.address))) return "cluster-member";
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

  private memberAddresses(): Set<string> {
    const rows = this.o.liveMembers();
    if (this.members && sameRows(this.members.rows, rows)) return this.members.ips;
    const ips = new Set<string>();
    for (const m of rows) {
      for (const host of [hostOfEndpoint(m.smtpEndpoint), hostOfUrl(m.httpUrl)]) {
        // Only literal, specific addresses count: a member bound to 0.0.0.0 says nothing about its source IP.
        if (host && isIP(host) && host !== "0.0.0.0" && host !== "::") ips.add(unmapIpv4(host));
      }
    }
    this.members = { rows, ips };
    return ips;
  }
}

function sameRows(a: readonly MemberRow[], b: readonly MemberRow[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
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
