import type { AppContext } from "../app-context.ts";
import type { ChannelAnswer, ChannelEnvelope, ChannelRecipient } from "../backend/channel-protocol.ts";
import type { Executor } from "../db/db.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import { deferred } from "../domain/outcome.ts";
import type { PendingRecord } from "../queue/recorder.ts";
import { coerceError } from "../util/errors.ts";
import { callDeliveryChannelBatch, type ChannelItem } from "./channel-client.ts";
import { type Expansion, expand, unknownHere } from "./local-expand.ts";
import { loadBodies } from "./batch-bodies.ts";
import { resolveOwners, temporary } from "./local-owner.ts";
import { accountsOutcome, combine } from "./local-results.ts";
import type { BatchTransport } from "./transport.ts";

export { ALIAS_HEADER } from "./local-results.ts";

const keyOf = (a: { id: number; account: string }) => `${a.id}\0${a.account}`;

/**
 * Local delivery, the queue side, for a whole claimed batch, in named steps:
 * 1. load: every body of the batch in one statement (local-load.ts);
 * 2. expand aliases and resolve accounts from the in-memory directory (local-expand.ts);
 * 3. resolve the owner of each account (local-owner.ts);
 * 4. store: this process's group in one call whose store transaction also records the
 *    outcomes of the recipients it settles alone; each other backend gets ONE delivery-channel
 *    request for its group; one "owner is X" redirect is followed;
 * 5. map the answers onto outcomes (local-results.ts) for everything not recorded yet.
 */
export const deliverLocal: BatchTransport = async (ctx, recipients, recorder) => {
  const bodies = await loadBodies(ctx.db, recipients.map((r) => r.messageId));
  const expansions = await expandAll(ctx, recipients, bodies);
  const owners = await resolveOwners(ctx, expansions);
  const me = ctx.config.memberName;

  const byMessage = new Map<number, ClaimedRecipient>(recipients.map((r) => [r.messageId, r]));
  const itemsFor = (rcpts: readonly ChannelRecipient[]): ChannelItem[] => {
    const messageOf = new Map(recipients.map((r) => [r.id, r.messageId]));
    const per = new Map<number, ChannelRecipient[]>();
    for (const rc of rcpts) {
      const m = messageOf.get(rc.id) as number;
      const list = per.get(m);
      if (list) list.push(rc);
      else per.set(m, [rc]);
    }
    return [...per].map(([messageId, list]) => {
      const first = byMessage.get(messageId) as ClaimedRecipient;
      const content = bodies.get(messageId) as Uint8Array;
      const envelope: ChannelEnvelope = {
        messageId,
        sender: first.sender,
        envid: first.dsnEnvid,
        ret: first.dsnRet,
        authenticated: first.authenticated,
        size: content.byteLength,
        recipients: list,
      };
      return { envelope, content };
    });
  };

  // The queue recipients this process settles alone: all their accounts stored here, no remote
  // alias targets. Their outcomes are recorded in the store transaction itself.
  const selfKeys = new Set((owners.groups.get(me) ?? []).map(keyOf));
  const settledHere = expansions.filter((e) => !e.outcome && e.remote.length === 0 && e.accounts.length > 0 && e.accounts.every((a) => selfKeys.has(`${e.recipient.id}\0${a.address}`)));
  const recorded = new Set<number>();
  let pending: PendingRecord | null = null;
  const onStored = async (tx: Executor, answers: readonly ChannelAnswer[]) => {
    const byKey = new Map(answers.map((a) => [keyOf(a), a]));
    const outcomes: RecipientOutcome[] = [];
    for (const e of settledHere) {
      const mine = e.accounts.map((a) => byKey.get(`${e.recipient.id}\0${a.address}`));
      if (mine.some((a) => !a || a.status === "redirect")) continue;
      const outcome = accountsOutcome(e, mine as ChannelAnswer[]);
      if (outcome) outcomes.push({ recipientId: e.recipient.id, outcome });
    }
    pending = outcomes.length > 0 ? await recorder.recordIn(tx, outcomes) : null;
  };
  const onCommitted = () => {
    const p: PendingRecord | null = pending;
    if (!p) return;
    p.committed();
    for (const r of p.summary.recorded) recorded.add(r.id);
  };

  const call = async (member: string, rcpts: ChannelRecipient[], withRecorder: boolean): Promise<ChannelAnswer[]> => {
    try {
      if (member === me) {
        const self = ctx.inProcessBackend.get();
        if (self) {
          ctx.metrics.inc("mailcluster_local_channel_calls_total", "Delivery-channel calls", { path: "direct" });
          return await self.deliverBatch(itemsFor(rcpts), withRecorder ? { onStored, onCommitted } : {});
        }
      }
      const url = owners.backends.get(member);
      if (!url) return rcpts.map((rc) => temporary(rc, `backend ${member} is not available`));
      ctx.metrics.inc("mailcluster_local_channel_calls_total", "Delivery-channel calls", { path: "http" });
      return await callDeliveryChannelBatch(ctx, url, itemsFor(rcpts), { target: member });
    } catch (err) {
      const text = coerceError(err).message;
      ctx.logger.warn({ messageIds: [...new Set(rcpts.map((rc) => rc.id))], backend: member, err: text }, "delivery channel call failed");
      return rcpts.map((rc) => temporary(rc, text));
    }
  };

  const answers = new Map<number, ChannelAnswer[]>();
  const add = (a: ChannelAnswer) => {
    const list = answers.get(a.id);
    if (list) list.push(a);
    else answers.set(a.id, [a]);
  };
  for (const a of owners.answers) add(a);
  const byKey = new Map<string, ChannelRecipient>();
  for (const rcpts of owners.groups.values()) for (const rc of rcpts) byKey.set(keyOf(rc), rc);
  const redirects = new Map<string, ChannelRecipient[]>();
  const firstRound = await Promise.all([...owners.groups].map(([member, rcpts]) => call(member, rcpts, member === me)));
  for (const a of firstRound.flat()) {
    const rc = byKey.get(keyOf(a));
    if (a.status === "redirect" && a.owner && rc) {
      const g = redirects.get(a.owner);
      if (g) g.push(rc);
      else redirects.set(a.owner, [rc]);
    } else add(a);
  }
  // One hop only: a second redirect means ownership is moving; retry later.
  const secondRound = await Promise.all([...redirects].map(([member, rcpts]) => call(member, rcpts, false)));
  for (const a of secondRound.flat()) add(a.status === "redirect" ? { ...a, status: "temporary" } : a);

  const rest = expansions.filter((e) => !recorded.has(e.recipient.id));
  return Promise.all(
    rest.map(async (e): Promise<RecipientOutcome> => {
      const content = bodies.get(e.recipient.messageId);
      const outcome = content ? await combine(ctx, e, answers.get(e.recipient.id) ?? [], content) : (e.outcome ?? deferred(451, "4.3.0", "message body not found"));
      return { recipientId: e.recipient.id, outcome };
    }),
  );
};

/** Step 2: aliases and accounts from the directory; a message without a body is deferred. */
async function expandAll(ctx: AppContext, recipients: readonly ClaimedRecipient[], bodies: ReadonlyMap<number, Uint8Array>): Promise<Expansion[]> {
  await ctx.directory.whenFresh();
  const run = (r: ClaimedRecipient): Expansion => {
    if (!bodies.has(r.messageId)) return { recipient: r, accounts: [], remote: [], alias: null, outcome: deferred(451, "4.3.0", `message body ${r.messageId} not found`) };
    return expand(ctx.directory, r, ctx.logger);
  };
  const expansions = recipients.map(run);
  if (!expansions.some(unknownHere)) return expansions;
  // Created a moment ago elsewhere? One version check (a reload only when it changed) before a 5xx.
  await ctx.directory.refresh();
  return expansions.map((e) => (unknownHere(e) ? run(e.recipient) : e));
}
