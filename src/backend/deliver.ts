import type { AppContext } from "../app-context.ts";
import type { DirectoryAccount } from "../accounts/directory.ts";
import { coerceError } from "../util/errors.ts";
import { header, type Headers, parseHeaders, prependHeaders } from "../util/headers.ts";
import { type AccountRuleRunner, defaultAccountRuleRunner, planActions, type RulePlan, validFolderName } from "./account-rules.ts";
import type { AccountOwnership, OpenResult } from "./account-owner.ts";
import type { ChannelAnswer, ChannelEnvelope, ChannelRecipient } from "./channel-protocol.ts";
import { alreadyRedirectedBy, submitForward, submitRedirect, submitVacation } from "./generated-mail.ts";
import type { DeliverBatchOptions, DeliveryItem, LocalBackend } from "./registry.ts";
import { type StoreEntry, type StoreResult, storeBatch } from "./mailbox-store.ts";

/** One message for one account, through the steps of a batch. */
interface Job {
  env: ChannelEnvelope;
  content: Uint8Array;
  headers: Headers;
  r: ChannelRecipient;
  account: DirectoryAccount | null;
  epoch: number | null;
  plan: RulePlan | null;
  /** Index into the store entries, when the plan keeps a copy. */
  entry: number | null;
  /** "stored in F uid N" once the copy committed. */
  kept: string;
  answer: ChannelAnswer | null;
}

function answer(r: ChannelRecipient, status: ChannelAnswer["status"], code: number, enhanced: string, text: string, owner?: string): ChannelAnswer {
  return { id: r.id, account: r.account, status, code, enhanced, text, ...(owner ? { owner } : {}) };
}

/**
 * The backend half of local delivery: open the account (or name its owner), run the
 * Account-Level Rules, store, answer. It never enqueues the message itself; only mail the
 * rules generate (redirect, forward, vacation) goes to the queue as new messages.
 */
export class BackendDelivery implements LocalBackend {
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
    return this.deliverBatch([{ envelope, content }]);
  }

  /**
   * Several messages in one call (a multi-message delivery-channel request, or the queue of
   * this very process): accounts from the directory, leases opened together, rules from
   * memory, everything kept stored in ONE transaction; then the mail the rules generate.
   * An answer per recipient of each item, in order.
   */
  async deliverBatch(items: readonly DeliveryItem[], options: DeliverBatchOptions = {}): Promise<ChannelAnswer[]> {
    this.inFlight += 1;
    try {
      const jobs = await this.accounts(items);
      await this.open(jobs);
      await this.plan(jobs);
      await this.store(jobs, options);
      await Promise.all(jobs.map((j) => this.finish(j)));
      const answers = jobs.map((j) => j.answer ?? answer(j.r, "temporary", 451, "4.3.0", "no answer"));
      const byStatus = new Map<string, number>();
      for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
      for (const [status, n] of byStatus) this.ctx.metrics.inc("mailcluster_local_deliveries_total", "Local deliveries by answer", { status }, n);
      return answers;
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const wake of this.drained.splice(0)) wake();
    }
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

  /**
   * Step 1: the account of every recipient, from the in-memory directory (as fresh as its
   * NOTIFY and poll keep it: a change made elsewhere is seen within about a second). Before
   * answering "no such account", one version check, so an account created a moment ago is found.
   */
  private async accounts(items: readonly DeliveryItem[]): Promise<Job[]> {
    const { directory } = this.ctx;
    await directory.whenFresh();
    const jobs: Job[] = items.flatMap((item) => {
      const headers = parseHeaders(item.content);
      return item.envelope.recipients.map((r) => ({ env: item.envelope, content: item.content, headers, r, account: directory.account(r.account), epoch: null, plan: null, entry: null, kept: "", answer: null }));
    });
    if (jobs.some((j) => j.account === null)) {
      await directory.refresh();
      for (const j of jobs) j.account ??= directory.account(j.r.account);
    }
    for (const j of jobs) {
      if (!j.account) j.answer = answer(j.r, "permanent", 550, "5.1.1", `no such account ${j.r.account}`);
      else if (!j.account.enabled) j.answer = answer(j.r, "permanent", 550, "5.2.1", `account ${j.account.address} is disabled`);
    }
    return jobs;
  }

  /** Step 2: open the accounts (one statement for those not already open here) or name their owner. */
  private async open(jobs: Job[]): Promise<void> {
    const me = this.ctx.config.memberName;
    const pending = jobs.filter((j) => !j.answer && j.account);
    if (pending.length === 0) return;
    let opened: Map<string, OpenResult>;
    try {
      opened = await this.ownership.openMany(pending.map((j) => ({ account: (j.account as DirectoryAccount).address, homeMember: (j.account as DirectoryAccount).homeMember })));
    } catch (err) {
      this.fail(pending, err);
      return;
    }
    for (const j of pending) {
      const address = (j.account as DirectoryAccount).address;
      const o = opened.get(address);
      if (!o) j.answer = answer(j.r, "temporary", 451, "4.4.0", `account ${address} could not be opened`);
      else if (o.kind === "closing") j.answer = answer(j.r, "temporary", 421, "4.3.2", `${me} is shutting down`);
      else if (o.kind === "elsewhere") {
        j.answer =
          o.owner === ""
            ? answer(j.r, "temporary", 451, "4.4.0", `account ${address} has no owner right now`)
            : answer(j.r, "redirect", 451, "4.4.0", `account ${address} is open on ${o.owner}`, o.owner);
      } else j.epoch = o.epoch;
    }
  }

  /** Step 3: the Account-Level Rules of each (message, account), from the directory's rules. */
  private async plan(jobs: Job[]): Promise<void> {
    const { ctx } = this;
    let evaluated = 0;
    await Promise.all(
      jobs.map(async (j) => {
        const account = j.account;
        if (j.answer || !account) return;
        try {
          const actions = await this.rules.run({
            account: account.address,
            domain: account.domain,
            headers: j.headers,
            envelope: { sender: j.env.sender, recipient: account.address },
            size: j.content.byteLength,
            authenticated: j.env.authenticated,
            domainRules: account.domainRules,
            accountRules: account.rules,
          });
          evaluated += 1;
          const plan = planActions(actions);
          if (plan.reject !== null) {
            j.answer = answer(j.r, "permanent", plan.reject.code, "5.7.1", plan.reject.text);
            return;
          }
          if (alreadyRedirectedBy(j.headers, account.address) && (plan.redirect.length > 0 || plan.forward.length > 0)) {
            ctx.logger.info({ messageId: j.env.messageId, account: account.address }, "not redirecting again a message this account redirected before (loop)");
            // Keeping it beats losing it: a redirect-only plan falls back to INBOX.
            if (plan.folder === null && plan.redirect.length > 0) plan.folder = "INBOX";
            plan.redirect = [];
            plan.forward = [];
          }
          j.plan = plan;
        } catch (err) {
          this.fail([j], err);
        }
      }),
    );
    if (evaluated > 0) ctx.metrics.inc("mailcluster_account_rule_invocations_total", "Account-Level Rule evaluations", {}, evaluated);
  }

  /**
   * Step 4: every copy kept, in one transaction that also runs the caller's onStored with the
   * answers that are final by then. Only the accounts whose lease was lost defer.
   */
  private async store(jobs: Job[], options: DeliverBatchOptions): Promise<void> {
    const { ctx } = this;
    const planned = jobs.filter((j) => !j.answer && j.plan && j.account);
    const entries: StoreEntry[] = [];
    for (const j of planned) {
      const plan = j.plan as RulePlan;
      if (plan.folder === null) continue;
      j.entry = entries.length;
      entries.push({
        account: (j.account as DirectoryAccount).address,
        queueMessageId: j.env.messageId,
        epoch: j.epoch,
        folder: validFolderName(plan.folder) ? plan.folder : "INBOX",
        flags: plan.flags,
        content: prependHeaders(j.content, plan.headers),
        sender: header(j.headers, "from") ?? (j.env.sender || null),
        subject: header(j.headers, "subject"),
        quotaBytes: (j.account as DirectoryAccount).quotaBytes,
      });
    }
    const onStored = options.onStored;
    if (entries.length === 0 && !onStored) {
      for (const j of planned) j.answer = this.unstoredAnswer(j);
      return;
    }
    // Decided inside the transaction (which a deadlock may run again), kept once it committed.
    let decided = new Map<Job, { answer: ChannelAnswer | null; result: StoreResult | null }>();
    try {
      await storeBatch(ctx.db, {
        member: ctx.config.memberName,
        internalDate: ctx.clock.now(),
        entries,
        inTransaction: async (tx, results) => {
          decided = new Map(
            planned.map((j) => {
              const result = j.entry === null ? null : results[j.entry];
              return [j, { result, answer: result ? this.storedAnswer(j, result) : this.unstoredAnswer(j) }];
            }),
          );
          if (!onStored) return;
          const final = jobs.flatMap((j) => {
            const a = j.answer ?? decided.get(j)?.answer ?? null;
            return a ? [a] : [];
          });
          await onStored(tx, final);
        },
      });
    } catch (err) {
      this.fail(planned, err);
      return;
    }
    options.onCommitted?.();
    for (const [j, { answer: a, result }] of decided) {
      j.answer = a;
      if (result?.kind === "lease-lost") this.ownership.lost((j.account as DirectoryAccount).address);
      else if (result?.kind === "duplicate") j.plan = null; // no rule actions a second time
      else if (result?.kind === "stored") j.kept = `stored in ${result.folder} uid ${result.uid}`;
    }
  }

  private storedAnswer(j: Job, res: StoreResult): ChannelAnswer {
    const address = (j.account as DirectoryAccount).address;
    switch (res.kind) {
      case "duplicate":
        return answer(j.r, "stored", 250, "2.0.0", `already stored for ${address}`);
      case "lease-lost":
        return answer(j.r, "temporary", 451, "4.4.0", `lease on ${address} lost to ${res.owner ?? "nobody"}; retry`);
      case "over-quota": {
        const text = `${address} is over quota (${res.usedBytes} of ${res.quotaBytes} bytes used)`;
        return this.ctx.settings().quota_temporary ? answer(j.r, "temporary", 452, "4.2.2", text) : answer(j.r, "permanent", 552, "5.2.2", text);
      }
      case "stored":
        return answer(j.r, "stored", 250, "2.0.0", [`stored in ${res.folder} uid ${res.uid}`, planned(j.plan)].filter(Boolean).join("; "));
    }
  }

  /** Nothing kept: final unless the message was redirected away, which must be submitted first. */
  private unstoredAnswer(j: Job): ChannelAnswer | null {
    if (j.plan && j.plan.redirect.length > 0) return null;
    return answer(j.r, "stored", 250, "2.0.0", planned(j.plan) || "discarded by rule");
  }

  /** Step 5: the mail the rules generate, once the store committed; the answers of redirects. */
  private async finish(j: Job): Promise<void> {
    const plan = j.plan;
    const account = j.account;
    if (!plan || !account) return;
    if (j.answer && j.answer.status !== "stored") return;
    try {
      const done = await this.sideEffects(j.env, account.address, plan, j.content, j.headers, j.kept !== "");
      j.answer = answer(j.r, "stored", 250, "2.0.0", [j.kept, done].filter(Boolean).join("; ") || "discarded by rule");
    } catch (err) {
      this.fail([j], err);
    }
  }

  /** A local error: the job is deferred (the retry is safe, stores are idempotent). */
  private fail(jobs: Job[], err: unknown): void {
    const { ctx } = this;
    const e = coerceError(err);
    for (const j of jobs) {
      ctx.logger.warn({ messageId: j.env.messageId, account: j.r.account, err: e.message }, "local delivery failed");
      j.answer = answer(j.r, "temporary", 451, "4.3.0", `local error on ${ctx.config.memberName}: ${e.message}`);
    }
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

/** What the rules will do besides keeping a copy (the queue records this before it is done). */
function planned(plan: RulePlan | null): string {
  if (!plan) return "";
  const parts: string[] = [];
  if (plan.redirect.length > 0) parts.push(`redirecting to ${plan.redirect.join(", ")}`);
  if (plan.forward.length > 0) parts.push(`forwarding to ${plan.forward.join(", ")}`);
  if (plan.autoReply) parts.push("auto-reply considered");
  return parts.join("; ");
}
