import { sql } from "drizzle-orm";
import type { AppContext } from "../app-context.ts";
import type { Executor } from "../db/db.ts";
import { dateOrNull, date, num, numOrNull, pgArray, queryRows, str, strOrNull, ts, type Row } from "../db/rows.ts";
import type { SmtpReply } from "../domain/types.ts";
import { readMessageBody } from "../queue/body.ts";
import { submitMemberMail } from "../member-mail/submit.ts";
import { coerceError } from "../util/errors.ts";
import { composeDsn, type DsnRecipientReport } from "./compose.ts";

/** Above this size RET defaults to HDRS: a bounce should not carry a huge message back. */
const FULL_RETURN_LIMIT = 1024 * 1024;

export interface DsnPassSummary {
  /** Done messages looked at (and marked). */
  checked: number;
  /** DSNs submitted. */
  sent: number;
  /** Undeliverable DSNs dropped (their postmaster copy failed too). */
  dropped: number;
}

export function postmasterAddress(ctx: AppContext): string {
  return ctx.settings().dsn_postmaster.trim() || `postmaster@${ctx.config.hostname}`;
}

function notifyList(value: string | null): string[] | null {
  return value ? value.toUpperCase().split(",").map((s) => s.trim()) : null;
}

function replyOf(row: Row): SmtpReply | null {
  const code = numOrNull(row.last_code);
  return code === null ? null : { code, enhanced: strOrNull(row.last_status), text: strOrNull(row.last_text) ?? "" };
}

interface MessageRow {
  id: number;
  sender: string;
  kind: string;
  envid: string | null;
  ret: string | null;
  createdAt: Date;
  sizeBytes: number;
}

/**
 * Failure (and success) DSNs for done messages, exactly once each: the message row is locked,
 * the DSN submitted and messages.dsn_checked_at set in ONE transaction, so a crash either
 * leaves both undone (the next pass does it) or both done. `messageIds` narrows the pass to
 * messages just finished (the worker's onRecorded); without it every unchecked done message
 * is taken, which also covers recipients an administrator bounced.
 */
export async function runFailureDsnPass(ctx: AppContext, o: { messageIds?: number[]; limit?: number } = {}): Promise<DsnPassSummary> {
  const summary: DsnPassSummary = { checked: 0, sent: 0, dropped: 0 };
  const limit = o.limit ?? 200;
  summary.checked += await markNoDsnNeeded(ctx, o.messageIds);
  // Every message asked about needed no report (the usual batch): no empty transaction to look for more.
  if (o.messageIds && summary.checked >= new Set(o.messageIds).size) return summary;
  // A message whose report fails (bad data, a bug) is left for the next pass and skipped in this
  // one, so it cannot hold up the DSNs of every message after it.
  const failing: number[] = [];
  const fastChecked = summary.checked;
  while (summary.checked - fastChecked + failing.length < limit) {
    let current: number | null = null;
    const more = await ctx.db
      .transaction(async (tx) => {
        const only = o.messageIds ? sql`AND id = ANY(${pgArray(o.messageIds)}::bigint[])` : sql``;
        const skip = failing.length > 0 ? sql`AND id <> ALL(${pgArray(failing)}::bigint[])` : sql``;
        const rows = await queryRows(
          tx,
          sql`SELECT id, sender, kind, dsn_envid, dsn_ret, created_at, size_bytes FROM messages
              WHERE done_at IS NOT NULL AND dsn_checked_at IS NULL ${only} ${skip}
              ORDER BY done_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
        );
        if (rows.length === 0) return false;
        const r = rows[0];
        current = num(r.id);
        const message: MessageRow = {
          id: num(r.id),
          sender: str(r.sender),
          kind: str(r.kind),
          envid: strOrNull(r.dsn_envid),
          ret: strOrNull(r.dsn_ret),
          createdAt: date(r.created_at),
          sizeBytes: num(r.size_bytes),
        };
        const outcome = await reportOn(ctx, tx, message);
        if (outcome === "sent") summary.sent += 1;
        if (outcome === "dropped") summary.dropped += 1;
        await tx.execute(sql`UPDATE messages SET dsn_checked_at = ${ts(ctx.clock.now())} WHERE id = ${message.id}`);
        summary.checked += 1;
        return true;
      })
      .catch((err: unknown) => {
        if (current === null) throw err;
        ctx.logger.error({ err: coerceError(err).message, messageId: current }, "DSN generation failed; retried on the next pass");
        failing.push(current);
        return true;
      });
    if (!more) break;
  }
  return summary;
}

/**
 * Most done messages need no report: nothing failed and nobody asked for NOTIFY=SUCCESS.
 * Mark those in one statement, so only the few that need a DSN take the per-message
 * transaction below. A DSN message that failed is not skipped here (it goes to postmaster).
 */
async function markNoDsnNeeded(ctx: AppContext, messageIds: number[] | undefined): Promise<number> {
  const scope = messageIds
    ? sql`id = ANY(${pgArray(messageIds)}::bigint[])`
    : sql`id IN (SELECT id FROM messages WHERE done_at IS NOT NULL AND dsn_checked_at IS NULL ORDER BY done_at LIMIT 5000)`;
  const rows = await queryRows(
    ctx.db,
    sql`
      UPDATE messages m SET dsn_checked_at = ${ts(ctx.clock.now())}
      WHERE ${scope} AND m.done_at IS NOT NULL AND m.dsn_checked_at IS NULL
        AND NOT EXISTS (
          SELECT 1 FROM recipients r
          WHERE r.message_id = m.id AND (r.state = 'failed' OR upper(coalesce(r.dsn_notify, '')) LIKE '%SUCCESS%'))
      RETURNING m.id`,
  );
  return rows.length;
}

async function recipientReports(tx: Executor, messageId: number, states: string[]): Promise<Array<DsnRecipientReport & { notify: string[] | null }>> {
  const rows = await queryRows(
    tx,
    sql`SELECT r.address, r.state, r.dsn_orcpt, r.dsn_notify, r.last_code, r.last_status, r.last_text, r.last_attempt_at, r.queued_at,
               (SELECT a.remote_host FROM attempts a WHERE a.recipient_id = r.id ORDER BY a.id DESC LIMIT 1) AS remote_host
        FROM recipients r
        WHERE r.message_id = ${messageId} AND r.state = ANY(${pgArray(states)}::text[])
        ORDER BY r.id`,
  );
  return rows.map((row) => {
    const remoteHost = strOrNull(row.remote_host);
    const state = str(row.state);
    return {
      address: str(row.address),
      orcpt: strOrNull(row.dsn_orcpt),
      notify: notifyList(strOrNull(row.dsn_notify)),
      action: state === "failed" ? "failed" : state === "delivered" ? (remoteHost ? "relayed" : "delivered") : "delayed",
      reply: replyOf(row),
      remoteHost,
      lastAttemptAt: dateOrNull(row.last_attempt_at),
    };
  });
}

async function reportOn(ctx: AppContext, tx: Executor, m: MessageRow): Promise<"sent" | "dropped" | "none"> {
  const all = await recipientReports(tx, m.id, ["failed", "delivered"]);
  if (m.kind === "dsn") {
    // A DSN we could not deliver: to postmaster once; the postmaster copy itself is dropped.
    const failed = all.filter((r) => r.action === "failed");
    if (failed.length === 0) return "none";
    const postmaster = postmasterAddress(ctx).toLowerCase();
    if (failed.some((r) => r.address.toLowerCase() === postmaster)) {
      ctx.logger.warn({ messageId: m.id, recipients: failed.map((r) => r.address) }, "undeliverable DSN to postmaster dropped");
      return "dropped";
    }
    await submitDsn(ctx, tx, m, "failure", postmasterAddress(ctx), failed, "HDRS");
    return "sent";
  }
  // Null sender: never a bounce to a bounce (RFC 5321 §4.5.5).
  if (m.sender === "") return "none";
  const reports = all.filter((r) =>
    r.action === "failed" ? !r.notify || r.notify.includes("FAILURE") : r.notify !== null && r.notify.includes("SUCCESS"),
  );
  if (reports.length === 0) return "none";
  const kind = reports.some((r) => r.action === "failed") ? "failure" : "success";
  const ret = m.ret === "FULL" || m.ret === "HDRS" ? m.ret : m.sizeBytes <= FULL_RETURN_LIMIT ? "FULL" : "HDRS";
  await submitDsn(ctx, tx, m, kind, m.sender, reports, ret);
  return "sent";
}

async function submitDsn(
  ctx: AppContext,
  tx: Executor,
  m: MessageRow,
  kind: "failure" | "delay" | "success",
  to: string,
  recipients: DsnRecipientReport[],
  ret: "FULL" | "HDRS",
): Promise<void> {
  const original = (await readMessageBody(tx, m.id)) ?? new Uint8Array();
  const now = ctx.clock.now();
  const composed = composeDsn({
    kind,
    reportingMta: ctx.config.hostname,
    to,
    envid: m.envid,
    arrivalDate: m.createdAt,
    date: now,
    recipients,
    original,
    ret,
    unique: `${m.id}.${Math.floor(ctx.random.next() * 2 ** 32).toString(36)}`,
  });
  // From: MAILER-DAEMON@<host name>: signed by the host's domain (or its parent's) when it has a key.
  // Same transaction as the caller's marker: the DSN exists exactly when the marker is set.
  const result = await submitMemberMail(ctx, { envelope: { sender: "", recipients: [{ address: to }] }, content: composed, signAs: ctx.config.hostname, kind: "dsn", now }, tx);
  ctx.logger.info({ messageId: m.id, dsnMessageId: result.messageId, kind, to, recipients: recipients.map((r) => r.address) }, "DSN submitted");
}

/**
 * Delay DSNs (off unless delay_dsn_after_seconds > 0): recipients still queued after that long,
 * attempted at least once, whose NOTIFY allows DELAY (RFC 3461 lets the MTA choose when NOTIFY
 * is absent; we report), get one "delayed" report per message; delay_notified_at marks them in
 * the same transaction, so it goes once.
 */
export async function runDelayDsnPass(ctx: AppContext, o: { limit?: number } = {}): Promise<DsnPassSummary> {
  const summary: DsnPassSummary = { checked: 0, sent: 0, dropped: 0 };
  const after = ctx.settings().delay_dsn_after_seconds;
  if (after <= 0) return summary;
  const now = ctx.clock.now();
  const cutoff = new Date(now.getTime() - after * 1000);
  const lifetime = ctx.settings().queue_lifetime_seconds;
  await ctx.db.transaction(async (tx) => {
    const rows = await queryRows(
      tx,
      sql`SELECT r.id, r.message_id, r.address, r.dsn_orcpt, r.last_code, r.last_status, r.last_text, r.last_attempt_at, r.queued_at,
                 m.sender, m.kind, m.dsn_envid, m.dsn_ret, m.created_at, m.size_bytes,
                 (SELECT a.remote_host FROM attempts a WHERE a.recipient_id = r.id ORDER BY a.id DESC LIMIT 1) AS remote_host
          FROM recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.state = 'queued' AND r.delay_notified_at IS NULL AND r.attempts > 0
            AND r.queued_at <= ${ts(cutoff)}
            AND m.sender <> '' AND m.kind <> 'dsn'
            AND (r.dsn_notify IS NULL OR r.dsn_notify ILIKE '%DELAY%')
          ORDER BY r.message_id, r.id
          LIMIT ${o.limit ?? 500}
          FOR UPDATE OF r SKIP LOCKED`,
    );
    const byMessage = new Map<number, Row[]>();
    for (const row of rows) {
      const id = num(row.message_id);
      byMessage.set(id, [...(byMessage.get(id) ?? []), row]);
    }
    for (const [messageId, group] of byMessage) {
      const first = group[0];
      const m: MessageRow = {
        id: messageId,
        sender: str(first.sender),
        kind: str(first.kind),
        envid: strOrNull(first.dsn_envid),
        ret: strOrNull(first.dsn_ret),
        createdAt: date(first.created_at),
        sizeBytes: num(first.size_bytes),
      };
      const reports: DsnRecipientReport[] = group.map((row) => ({
        address: str(row.address),
        orcpt: strOrNull(row.dsn_orcpt),
        action: "delayed",
        reply: replyOf(row),
        remoteHost: strOrNull(row.remote_host),
        lastAttemptAt: dateOrNull(row.last_attempt_at),
        willRetryUntil: new Date(date(row.queued_at).getTime() + lifetime * 1000),
      }));
      // A delay notice never carries the whole message: the headers identify it.
      await submitDsn(ctx, tx, m, "delay", m.sender, reports, "HDRS");
      await tx.execute(sql`UPDATE recipients SET delay_notified_at = ${ts(now)} WHERE id = ANY(${pgArray(group.map((row) => num(row.id)))}::bigint[])`);
      summary.checked += group.length;
      summary.sent += 1;
    }
  });
  return summary;
}

/** Both passes, errors logged (a DSN pass must never take the worker down); for the timer and onRecorded. */
export async function runDsnPasses(ctx: AppContext, o: { messageIds?: number[]; delay?: boolean } = {}): Promise<void> {
  try {
    await runFailureDsnPass(ctx, { messageIds: o.messageIds });
    if (o.delay !== false) await runDelayDsnPass(ctx);
  } catch (err) {
    ctx.logger.warn({ err: coerceError(err).message }, "DSN pass failed; the next pass retries");
  }
}
