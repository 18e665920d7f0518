import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { readMessageBody } from "../queue/body.ts";
import { resolveRecipient } from "../accounts/lookup.ts";
import type { ChannelAnswer, ChannelEnvelope, ChannelRecipient } from "../backend/channel-protocol.ts";
import { parseHeaders, prependHeaders } from "../backend/headers.ts";
import { inProcessBackend } from "../backend/registry.ts";
import { readAccountLeases, rendezvousOwner } from "../cluster/account-leases.ts";
import { liveMembers } from "../cluster/members.ts";
import { chooseProcessor } from "../cluster/processor.ts";
import { queryRows, strOrNull } from "../db/rows.ts";
import type { DeliveryOutcome, SmtpReply } from "../domain/types.ts";
import type { ClaimedRecipient } from "../queue/claimed.ts";
import { submitMessage } from "../queue/submit.ts";
import type { RecipientOutcome } from "../queue/worker.ts";
import { coerceError } from "../util/errors.ts";
import { callDeliveryChannel } from "./channel-client.ts";
import type { Transport } from "./transport.ts";

/** Marks mail an alias sent on to remote targets; the same alias does not expand it twice (loop). */
export const ALIAS_HEADER = "X-Mailcluster-Alias-Expanded";
const MAX_ALIAS_DEPTH = 5;

interface TargetAccount {
  address: string;
  homeMember: string | null;
}

/** What one queue recipient turned into: accounts here, remote addresses, or an answer already. */
interface Expansion {
  recipient: ClaimedRecipient;
  accounts: TargetAccount[];
  remote: string[];
  /** Set when this recipient is an alias that forwards to remote targets. */
  alias: string | null;
  outcome: DeliveryOutcome | null;
}

const reply = (code: number, enhanced: string, text: string): SmtpReply => ({ code, enhanced, text });
const deferred = (code: number, enhanced: string, text: string): DeliveryOutcome => ({ kind: "deferred", reply: reply(code, enhanced, text) });
const failed = (code: number, enhanced: string, text: string): DeliveryOutcome => ({ kind: "failed", reply: reply(code, enhanced, text) });

async function expand(ctx: AppContext, r: ClaimedRecipient): Promise<Expansion> {
  const e: Expansion = { recipient: r, accounts: [], remote: [], alias: null, outcome: null };
  const seen = new Set<string>();
  const walk = async (address: string, depth: number, top: boolean): Promise<void> => {
    const key = address.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    const found = await resolveRecipient(ctx.db, address);
    if (found.kind === "account") {
      e.accounts.push({ address: found.address, homeMember: found.homeMember });
    } else if (found.kind === "alias") {
      if (top) e.alias = found.address;
      if (depth >= MAX_ALIAS_DEPTH) {
        e.outcome = failed(550, "5.4.6", `alias ${found.address} nests deeper than ${MAX_ALIAS_DEPTH} levels`);
        return;
      }
      for (const t of found.targets) await walk(t, depth + 1, false);
    } else if (found.kind === "remote") {
      // The router sends only local domains here; a domain removed meanwhile is not ours to relay.
      if (top) e.outcome = deferred(451, "4.3.0", `${address} is not in a local domain`);
      else e.remote.push(address);
    } else if (top) {
      e.outcome = failed(550, "5.1.1", `no such user here: ${address}`);
    } else {
      ctx.logger.warn({ messageId: r.messageId, alias: e.alias, target: address }, "alias target does not exist; skipped");
    }
  };
  await walk(r.address, 0, true);
  if (!e.outcome && e.accounts.length === 0 && e.remote.length === 0) e.outcome = failed(550, "5.1.1", `alias ${r.address} leads to no existing address`);
  return e;
}

interface MessageData {
  content: Uint8Array;
  authenticated: boolean;
}

async function loadMessage(ctx: AppContext, messageId: number): Promise<MessageData | null> {
  const rows = await queryRows(ctx.db, sql`SELECT authenticated_user FROM messages WHERE id = ${messageId}`);
  const row = rows[0];
  if (!row) return null;
  const content = await readMessageBody(ctx.db, messageId);
  if (!content) return null;
  return { content, authenticated: strOrNull(row.authenticated_user) !== null };
}

/**
 * Local delivery, the queue side: expand aliases, pick the backend that owns or should open
 * each account (static home, current lease holder, else rendezvous hashing over the live
 * backends), send each backend ONE call for its recipients of this message (directly when it
 * is this process), follow one "owner is X" redirect, and map the answers onto outcomes.
 */
export const deliverLocal: Transport = async (ctx, recipients) => {
  const first = recipients[0];
  const message = await loadMessage(ctx, first.messageId);
  if (!message) return recipients.map((r) => ({ recipientId: r.id, outcome: deferred(451, "4.3.0", `message body ${r.messageId} not found`) }));

  const expansions = await Promise.all(recipients.map((r) => expand(ctx, r)));
  const s = ctx.settings();
  const backends = new Map(
    (await liveMembers(ctx.db, ctx.clock.now(), s.member_timeout_seconds))
      .filter((m) => m.roles.includes("backend") && m.httpUrl)
      .map((m) => [m.name, m.httpUrl as string]),
  );
  const dynamic = expansions.flatMap((e) => e.accounts.filter((a) => a.homeMember === null).map((a) => a.address));
  const leases = new Map((await readAccountLeases(ctx.db, dynamic)).map((l) => [l.account, l]));
  const now = ctx.clock.now().getTime();

  // answers[queue recipient id] = answers for each of its accounts
  const answers = new Map<number, ChannelAnswer[]>();
  const add = (a: ChannelAnswer) => {
    const list = answers.get(a.id);
    if (list) list.push(a);
    else answers.set(a.id, [a]);
  };
  const temporary = (rc: ChannelRecipient, text: string, code = 451, enhanced = "4.4.1"): ChannelAnswer => ({ id: rc.id, account: rc.account, status: "temporary", code, enhanced, text });

  const groups = new Map<string, ChannelRecipient[]>();
  for (const e of expansions) {
    if (e.outcome) continue;
    for (const a of e.accounts) {
      const rc: ChannelRecipient = { id: e.recipient.id, account: a.address, orcpt: e.recipient.dsnOrcpt, notify: e.recipient.dsnNotify };
      let target: string | null;
      if (a.homeMember !== null) {
        target = backends.has(a.homeMember) ? a.homeMember : null;
        if (!target) {
          add(temporary(rc, `home backend ${a.homeMember} of ${a.address} is not available`));
          continue;
        }
      } else {
        const lease = leases.get(a.address);
        if (lease && lease.leaseUntil.getTime() > now) {
          if (!backends.has(lease.member)) {
            add(temporary(rc, `${a.address} is open on ${lease.member}, which is not responding (lease until ${lease.leaseUntil.toISOString()})`));
            continue;
          }
          target = lease.member;
        } else {
          target = rendezvousOwner(a.address, [...backends.keys()]);
        }
        if (!target) {
          add(temporary(rc, "no live backend to open the account"));
          continue;
        }
      }
      const g = groups.get(target);
      if (g) g.push(rc);
      else groups.set(target, [rc]);
    }
  }

  const envelope = (rcpts: ChannelRecipient[]): ChannelEnvelope => ({
    messageId: first.messageId,
    sender: first.sender,
    envid: first.dsnEnvid,
    ret: first.dsnRet,
    authenticated: message.authenticated,
    size: message.content.byteLength,
    recipients: rcpts,
  });
  const call = async (member: string, rcpts: ChannelRecipient[]): Promise<ChannelAnswer[]> => {
    try {
      const self = member === ctx.config.memberName ? inProcessBackend(ctx) : null;
      if (self) {
        ctx.metrics.inc("mailcluster_local_channel_calls_total", "Delivery-channel calls", { path: "direct" });
        return await self.deliver(envelope(rcpts), message.content);
      }
      const url = backends.get(member);
      if (!url) return rcpts.map((rc) => temporary(rc, `backend ${member} is not available`));
      ctx.metrics.inc("mailcluster_local_channel_calls_total", "Delivery-channel calls", { path: "http" });
      return await callDeliveryChannel(ctx, url, envelope(rcpts), message.content);
    } catch (err) {
      const text = coerceError(err).message;
      ctx.logger.warn({ messageId: first.messageId, backend: member, err: text }, "delivery channel call failed");
      return rcpts.map((rc) => temporary(rc, text));
    }
  };

  const redirects = new Map<string, ChannelRecipient[]>();
  const byKey = new Map<string, ChannelRecipient>();
  for (const rcpts of groups.values()) for (const rc of rcpts) byKey.set(`${rc.id}\0${rc.account}`, rc);
  const firstRound = await Promise.all([...groups].map(([member, rcpts]) => call(member, rcpts)));
  for (const a of firstRound.flat()) {
    const rc = byKey.get(`${a.id}\0${a.account}`);
    if (a.status === "redirect" && a.owner && rc) {
      const g = redirects.get(a.owner);
      if (g) g.push(rc);
      else redirects.set(a.owner, [rc]);
    } else add(a);
  }
  // One hop only: a second redirect means ownership is moving; retry later.
  const secondRound = await Promise.all([...redirects].map(([member, rcpts]) => call(member, rcpts)));
  for (const a of secondRound.flat()) add(a.status === "redirect" ? { ...a, status: "temporary" } : a);

  return Promise.all(expansions.map(async (e): Promise<RecipientOutcome> => ({ recipientId: e.recipient.id, outcome: await combine(ctx, e, answers.get(e.recipient.id) ?? [], message.content) })));
};

/**
 * One queue recipient's outcome from its accounts' answers: any temporary → deferred (the
 * retry is safe: stores are idempotent); all permanent → failed; otherwise delivered, after
 * the remote targets of an alias were submitted as a new message.
 */
async function combine(ctx: AppContext, e: Expansion, answers: ChannelAnswer[], content: Uint8Array): Promise<DeliveryOutcome> {
  if (e.outcome) return e.outcome;
  const temp = answers.find((a) => a.status === "temporary" || a.status === "redirect");
  if (temp) return deferred(temp.code, temp.enhanced, temp.text);
  if (answers.length < e.accounts.length) return deferred(451, "4.3.0", "no answer for some accounts");
  const stored = answers.filter((a) => a.status === "stored");
  if (e.accounts.length > 0 && stored.length === 0) {
    const p = answers[0];
    return failed(p.code, p.enhanced, p.text);
  }
  if (e.remote.length > 0) {
    const alias = e.alias ?? e.recipient.address;
    const marks = parseHeaders(content).get(ALIAS_HEADER.toLowerCase()) ?? [];
    if (marks.some((m) => m.toLowerCase() === alias.toLowerCase())) {
      if (stored.length === 0) return failed(550, "5.4.6", `alias loop: ${alias} already expanded this message`);
    } else {
      try {
        await submitMessage(ctx.db, {
          envelope: { sender: e.recipient.sender, recipients: e.remote.map((address) => ({ address })) },
          content: prependHeaders(content, [`${ALIAS_HEADER}: ${alias}`]),
          submittedBy: ctx.config.memberName,
          processor: await chooseProcessor(ctx),
          kind: "generated",
          now: ctx.clock.now(),
        });
      } catch (err) {
        return deferred(451, "4.3.0", `could not hand ${alias} on to ${e.remote.join(", ")}: ${coerceError(err).message}`);
      }
    }
  }
  const parts = stored.map((a) => `${a.account}: ${a.text}`);
  if (e.remote.length > 0) parts.push(`sent on to ${e.remote.join(", ")}`);
  const refused = answers.filter((a) => a.status === "permanent");
  if (refused.length > 0) parts.push(`refused by ${refused.map((a) => `${a.account} (${a.code} ${a.text})`).join(", ")}`);
  return { kind: "delivered", reply: reply(250, "2.0.0", parts.join("; ").slice(0, 900)) };
}

