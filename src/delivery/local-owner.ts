import type { AppContext } from "../app-context.ts";
import type { ChannelAnswer, ChannelRecipient } from "../backend/channel-protocol.ts";
import { readAccountLeases, rendezvousOwner } from "../cluster/account-leases.ts";
import { liveMembers, type MemberRow } from "../cluster/members.ts";
import type { Expansion } from "./local-expand.ts";

/** Where each (queue recipient, account) goes: a backend, or an answer already. */
export interface OwnerPlan {
  /** Live backends: member name → delivery-channel URL ("" for this process, called directly). */
  backends: Map<string, string>;
  /** Recipients per backend that should store them. */
  groups: Map<string, ChannelRecipient[]>;
  /** Temporary answers for accounts whose owner cannot be reached now. */
  answers: ChannelAnswer[];
}

export const temporary = (rc: ChannelRecipient, text: string, code = 451, enhanced = "4.4.1"): ChannelAnswer => ({ id: rc.id, account: rc.account, status: "temporary", code, enhanced, text });

/**
 * Live backends from the cluster view the heartbeat keeps (a bare context without one asks the
 * members table), this process included when it runs a backend. When the view has none, or
 * lacks a backend the batch needs (an account's lease holder or home), the members table is
 * asked once before those recipients are deferred: a backend that started since the last
 * heartbeat (a cluster coming up, a backend joining and opening accounts) is then used at
 * once, not after a retry.
 */
async function liveBackends(ctx: AppContext, needed: ReadonlySet<string>): Promise<Map<string, string>> {
  const read = async () => liveMembers(ctx.db, ctx.clock.now(), ctx.settings().member_timeout_seconds);
  const backendsOf = (rows: readonly MemberRow[]) =>
    new Map(rows.filter((m) => m.roles.includes("backend") && m.httpUrl).map((m) => [m.name, m.httpUrl as string]));
  const backends = backendsOf(ctx.cluster ? ctx.cluster.live() : await read());
  if (ctx.inProcessBackend.get() && !backends.has(ctx.config.memberName)) backends.set(ctx.config.memberName, "");
  const missing = [...needed].some((m) => !backends.has(m));
  if ((backends.size === 0 || missing) && ctx.cluster) {
    for (const [name, url] of backendsOf(await read())) if (!backends.has(name)) backends.set(name, url);
  }
  return backends;
}

/**
 * The backend for each account: its static home; for a dynamic account this process when it
 * holds the lease (its memory says so, no query), else the current holder from ONE read of
 * account_leases for the batch, else rendezvous hashing over the live backends.
 */
export async function resolveOwners(ctx: AppContext, expansions: readonly Expansion[]): Promise<OwnerPlan> {
  const me = ctx.config.memberName;
  const ownership = ctx.inProcessBackend.get()?.ownership ?? null;
  const ask = new Set<string>();
  const needed = new Set<string>();
  for (const e of expansions) {
    if (e.outcome) continue;
    for (const a of e.accounts) {
      if (a.homeMember !== null) needed.add(a.homeMember);
      else if (!ownership?.holds(a.address)) ask.add(a.address);
    }
  }
  const leases = new Map((await readAccountLeases(ctx.db, [...ask])).map((l) => [l.account, l]));
  const now = ctx.clock.now().getTime();
  for (const l of leases.values()) if (l.leaseUntil.getTime() > now) needed.add(l.member);
  const plan: OwnerPlan = { backends: await liveBackends(ctx, needed), groups: new Map(), answers: [] };
  const { backends } = plan;
  const add = (member: string, rc: ChannelRecipient) => {
    const g = plan.groups.get(member);
    if (g) g.push(rc);
    else plan.groups.set(member, [rc]);
  };
  for (const e of expansions) {
    if (e.outcome) continue;
    for (const a of e.accounts) {
      const rc: ChannelRecipient = { id: e.recipient.id, account: a.address, orcpt: e.recipient.dsnOrcpt, notify: e.recipient.dsnNotify };
      if (a.homeMember !== null) {
        if (backends.has(a.homeMember)) add(a.homeMember, rc);
        else plan.answers.push(temporary(rc, `home backend ${a.homeMember} of ${a.address} is not available`));
        continue;
      }
      if (!ask.has(a.address)) {
        add(me, rc);
        continue;
      }
      const lease = leases.get(a.address);
      if (lease && lease.leaseUntil.getTime() > now) {
        if (backends.has(lease.member)) add(lease.member, rc);
        else plan.answers.push(temporary(rc, `${a.address} is open on ${lease.member}, which is not responding (lease until ${lease.leaseUntil.toISOString()})`));
        continue;
      }
      const target = rendezvousOwner(a.address, [...backends.keys()]);
      if (target) add(target, rc);
      else plan.answers.push(temporary(rc, "no live backend to open the account"));
    }
  }
  return plan;
}
