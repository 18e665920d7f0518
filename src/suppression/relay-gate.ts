import type { AppContext } from "../app-context.ts";
import { type BounceClass, classifyReply, isBounceClass } from "../domain/bounce-class.ts";
import type { ClaimedRecipient, RecipientOutcome } from "../domain/delivery.ts";
import { activeSuppressions, type Suppression, suppressAfterBounce } from "./store.ts";
import { canonicalAddress } from "../domain/address.ts";

type GateContext = Pick<AppContext, "db" | "clock" | "logger" | "metrics" | "settings" | "config">;

/** The reply a suppressed recipient fails with: permanent, so the sender gets the usual DSN. */
export function suppressedReply(s: Suppression): { code: number; enhanced: string; text: string } {
  const until = s.expiresAt ? ` until ${s.expiresAt.toISOString()}` : "";
  return { code: 550, enhanced: "5.1.1", text: `recipient is on the suppression list (reason: ${s.reason.replace(/[\r\n]+/g, " ")})${until}` };
}

/** The classes the suppression_auto_classes setting names (unknown names are ignored). */
export function autoSuppressClasses(setting: string): Set<BounceClass> {
  return new Set(
    setting
      .split(",")
      .map((s) => s.trim())
      .filter(isBounceClass),
  );
}

/**
 * The suppression list around one relay transaction: recipients on the list fail at once
 * (550 5.1.1, no connection is made for them), the others are delivered, and those that then
 * fail permanently with a class named by suppression_auto_classes are added to the list.
 * One query before (all the message's recipients together) and one after, only when needed.
 */
export async function deliverUnlessSuppressed(
  ctx: GateContext,
  recipients: ClaimedRecipient[],
  deliver: (recipients: ClaimedRecipient[]) => Promise<RecipientOutcome[]>,
): Promise<RecipientOutcome[]> {
  const now = ctx.clock.now();
  const listed = await activeSuppressions(ctx.db, recipients.map((r) => r.address), now);
  const blocked: RecipientOutcome[] = [];
  const open: ClaimedRecipient[] = [];
  for (const r of recipients) {
    const s = listed.get(canonicalAddress(r.address));
    if (s) blocked.push({ recipientId: r.id, outcome: { kind: "failed", reply: suppressedReply(s) } });
    else open.push(r);
  }
  if (blocked.length > 0) {
    ctx.metrics.inc("mailcluster_suppressed_recipients_total", "Recipients failed without a delivery attempt because they are on the suppression list", {}, blocked.length);
  }
  const delivered = open.length > 0 ? await deliver(open) : [];
  await suppressBounced(ctx, open, delivered, now);
  return [...blocked, ...delivered];
}

async function suppressBounced(ctx: GateContext, recipients: readonly ClaimedRecipient[], outcomes: readonly RecipientOutcome[], now: Date): Promise<void> {
  const settings = ctx.settings();
  const classes = autoSuppressClasses(settings.suppression_auto_classes);
  if (classes.size === 0) return;
  const addressOf = new Map(recipients.map((r) => [r.id, r.address]));
  const byClass = new Map<BounceClass, Array<{ address: string; reason: string; expiresAt: Date | null }>>();
  for (const o of outcomes) {
    if (o.outcome.kind !== "failed") continue;
    const cls = classifyReply(o.outcome.reply);
    const address = addressOf.get(o.recipientId);
    if (!classes.has(cls) || address === undefined) continue;
    const { code, enhanced, text } = o.outcome.reply;
    const reason = `${code}${enhanced ? ` ${enhanced}` : ""} ${text}`.replace(/\s+/g, " ").trim();
    const expiresAt = settings.suppression_expiry_seconds > 0 ? new Date(now.getTime() + settings.suppression_expiry_seconds * 1000) : null;
    const list = byClass.get(cls) ?? [];
    list.push({ address, reason, expiresAt });
    byClass.set(cls, list);
  }
  for (const [bounceClass, entries] of byClass) {
    try {
      const added = await suppressAfterBounce(ctx.db, { entries, bounceClass, member: ctx.config.memberName, now });
      ctx.metrics.inc("mailcluster_suppressions_added_total", "Addresses added to the suppression list after a permanent failure, by bounce class", { class: bounceClass }, added);
      ctx.logger.info({ addresses: entries.map((e) => e.address), class: bounceClass }, "suppressed after a permanent failure");
    } catch (e) {
      // The failure itself is recorded either way; a missed suppression only costs one more bounce.
      ctx.logger.warn({ err: e, class: bounceClass }, "could not add bounced addresses to the suppression list");
    }
  }
}
