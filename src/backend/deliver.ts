import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import { queryRows, numOrNull, str, strOrNull } from "../db/rows.ts";
import { coerceError } from "../util/errors.ts";
import { type AccountRuleRunner, defaultAccountRuleRunner, planActions, type RulePlan, validFolderName } from "./account-rules.ts";
import type { AccountOwnership } from "./account-owner.ts";
import type { ChannelAnswer, ChannelEnvelope, ChannelRecipient } from "./channel-protocol.ts";
import { alreadyRedirectedBy, submitForward, submitRedirect, submitVacation } from "./generated-mail.ts";
import { header, type Headers, parseHeaders } from "./headers.ts";
import { storeMessage } from "./mailbox-store.ts";

interface AccountRow {
  address: string;
  domain: string;
  enabled: boolean;
  homeMember: string | null;
  quotaBytes: number | null;
  rules: unknown;
  domainRules: unknown;
}

async function loadAccount(ctx: AppContext, address: string): Promise<AccountRow | null> {
  const rows = await queryRows(
    ctx.db,
    sql`SELECT a.address, a.domain, a.enabled, a.home_member, a.quota_bytes, a.rules, d.rules AS domain_rules
        FROM accounts a JOIN domains d ON d.name = a.domain WHERE a.address = ${address.toLowerCase()}`,
  );
  const r = rows[0];
  if (!r) return null;
  return {
    address: str(r.address),
    domain: str(r.domain),
    enabled: r.enabled === true || r.enabled === "t",
    homeMember: strOrNull(r.home_member),
    quotaBytes: numOrNull(r.quota_bytes),
    rules: r.rules ?? null,
    domainRules: r.domain_rules ?? null,
  };
}

function answer(r: ChannelRecipient, status: ChannelAnswer["status"], code: number, enhanced: string, text: string, owner?: string): ChannelAnswer {
  return { id: r.id, account: r.account, status, code, enhanced, text, ...(owner ? { owner } : {}) };
}

/**
 * The backend half of local delivery: open the account (or name its owner), run the
 * Account-Level Rules, store, answer. It never enqueues the message itself; only mail the
 * rules generate (redirect, forward, vacation) goes to the queue as new messages.
 */
export class BackendDelivery {
  private inFlight = 0;
  private readonly drained: Array<() => void> = [];

  constructor(
    private readonly ctx: AppContext,
    readonly ownership: AccountOwnership,
    private rules: AccountRuleRunner = defaultAccountRuleRunner,
  ) {}

  setRuleRunner(rules: AccountRuleRunner): void {
    this.rules = rules;
  }

  async deliver(envelope: ChannelEnvelope, content: Uint8Array): Promise<ChannelAnswer[]> {
    this.inFlight += 1;
    try {
      const headers = parseHeaders(content);
      return await Promise.all(envelope.recipients.map((r) => this.deliverOne(envelope, r, content, headers)));
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const wake of this.drained.splice(0)) wake();
    }
  }

  /** Several messages in one call (a multi-message delivery-channel request): an answer per recipient of each. */
  async deliverBatch(items: Array<{ envelope: ChannelEnvelope; content: Uint8Array }>): Promise<ChannelAnswer[]> {
    return (await Promise.all(items.map((i) => this.deliver(i.envelope, i.content)))).flat();
  }

  /**
   * Shutting down: accounts not yet open are refused (the sender retries elsewhere later);
   * deliveries under way may finish, for up to `graceMs`, before the leases are given back.
   */
  async drain(graceMs: number): Promise<void> {
    this.ownership.close();
    if (this.inFlight === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([new Promise<void>((r) => this.drained.push(r)), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private async deliverOne(env: ChannelEnvelope, r: ChannelRecipient, content: Uint8Array, headers: Headers): Promise<ChannelAnswer> {
    const { ctx } = this;
    try {
      const a = await this.answerFor(env, r, content, headers);
      ctx.metrics.inc("mailcluster_local_deliveries_total", "Local deliveries by answer", { status: a.status });
      return a;
    } catch (err) {
      const e = coerceError(err);
      ctx.logger.warn({ messageId: env.messageId, account: r.account, err: e.message }, "local delivery failed");
      ctx.metrics.inc("mailcluster_local_deliveries_total", "Local deliveries by answer", { status: "temporary" });
      return answer(r, "temporary", 451, "4.3.0", `local error on ${ctx.config.memberName}: ${e.message}`);
    }
  }

  private async answerFor(env: ChannelEnvelope, r: ChannelRecipient, content: Uint8Array, headers: Headers): Promise<ChannelAnswer> {
    const { ctx } = this;
    const me = ctx.config.memberName;
    const account = await loadAccount(ctx, r.account);
    if (!account) return answer(r, "permanent", 550, "5.1.1", `no such account ${r.account}`);
    if (!account.enabled) return answer(r, "permanent", 550, "5.2.1", `account ${account.address} is disabled`);

    const opened = await this.ownership.open(account.address, account.homeMember);
    if (opened.kind === "closing") return answer(r, "temporary", 421, "4.3.2", `${me} is shutting down`);
    if (opened.kind === "elsewhere") {
      if (opened.owner === "") return answer(r, "temporary", 451, "4.4.0", `account ${account.address} has no owner right now`);
      return answer(r, "redirect", 451, "4.4.0", `account ${account.address} is open on ${opened.owner}`, opened.owner);
    }

    const actions = await this.rules.run({
      account: account.address,
      domain: account.domain,
      headers,
      envelope: { sender: env.sender, recipient: account.address },
      size: content.byteLength,
      authenticated: env.authenticated,
      domainRules: account.domainRules,
      accountRules: account.rules,
    });
    const plan = planActions(actions);
    ctx.metrics.inc("mailcluster_account_rule_invocations_total", "Account-Level Rule evaluations");
    if (plan.reject !== null) return answer(r, "permanent", 550, "5.7.1", plan.reject);

    const looped = alreadyRedirectedBy(headers, account.address);
    if (looped && (plan.redirect.length > 0 || plan.forward.length > 0)) {
      ctx.logger.info({ messageId: env.messageId, account: account.address }, "not redirecting again a message this account redirected before (loop)");
      // Keeping it beats losing it: a redirect-only plan falls back to INBOX.
      if (plan.folder === null && plan.redirect.length > 0) plan.folder = "INBOX";
      plan.redirect = [];
      plan.forward = [];
    }
    let stored = "";
    if (plan.folder !== null) {
      const folder = validFolderName(plan.folder) ? plan.folder : "INBOX";
      const res = await storeMessage(ctx.db, {
        account: account.address,
        queueMessageId: env.messageId,
        epoch: opened.epoch,
        member: me,
        folder,
        flags: plan.flags,
        content,
        sender: header(headers, "from") ?? (env.sender || null),
        subject: header(headers, "subject"),
        internalDate: ctx.clock.now(),
        quotaBytes: account.quotaBytes,
      });
      if (res.kind === "duplicate") return answer(r, "stored", 250, "2.0.0", `already stored for ${account.address}`);
      if (res.kind === "lease-lost") {
        this.ownership.lost(account.address);
        return answer(r, "temporary", 451, "4.4.0", `lease on ${account.address} lost to ${res.owner ?? "nobody"}; retry`);
      }
      if (res.kind === "over-quota") {
        const text = `${account.address} is over quota (${res.usedBytes} of ${res.quotaBytes} bytes used)`;
        return ctx.settings().quota_temporary ? answer(r, "temporary", 452, "4.2.2", text) : answer(r, "permanent", 552, "5.2.2", text);
      }
      stored = `stored in ${res.folder} uid ${res.uid}`;
    }
    const done = await this.sideEffects(env, account.address, plan, content, headers, stored !== "");
    return answer(r, "stored", 250, "2.0.0", [stored, done].filter(Boolean).join("; ") || "discarded by rule");
  }

  /**
   * Mail the rules generate. Runs after the store committed, and only when this delivery was
   * not a duplicate. A failing redirect of a message we did not keep is temporary (the retry
   * redoes it); once a copy is stored, a failure is logged rather than risking a second copy.
   */
  private async sideEffects(env: ChannelEnvelope, account: string, plan: RulePlan, content: Uint8Array, headers: Headers, kept: boolean): Promise<string> {
    const { ctx } = this;
    const done: string[] = [];
    const guard = async (what: string, task: () => Promise<void>, mustSucceed: boolean) => {
      try {
        await task();
      } catch (err) {
        ctx.logger.warn({ messageId: env.messageId, account, what, err: coerceError(err).message }, "rule action failed");
        if (mustSucceed) throw err;
      }
    };
    if (plan.redirect.length > 0) {
      await guard("redirect", async () => {
        await submitRedirect(ctx, { account, to: plan.redirect, sender: env.sender, content, headers });
        done.push(`redirected to ${plan.redirect.join(", ")}`);
      }, !kept);
    }
    if (plan.forward.length > 0) {
      await guard("forward", async () => {
        await submitForward(ctx, { account, to: plan.forward, content, headers });
        done.push(`forwarded to ${plan.forward.join(", ")}`);
      }, false);
    }
    if (plan.autoReply) {
      const reply = plan.autoReply;
      await guard("auto-reply", async () => {
        if (await submitVacation(ctx, { account, sender: env.sender, headers, text: reply.text, subject: reply.subject, days: reply.days })) done.push("auto-replied");
      }, false);
    }
    return done.join("; ");
  }
}
