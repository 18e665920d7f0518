import type { ClaimedRecipient } from "../domain/delivery.ts";
import { date, num, type Row, str, strOrNull } from "../db/rows.ts";

export function claimedFromRow(row: Row): ClaimedRecipient {
  const ret = strOrNull(row.dsn_ret);
  return {
    id: num(row.id),
    messageId: num(row.message_id),
    address: str(row.address),
    domain: str(row.domain),
    attempts: num(row.attempts),
    queuedAt: date(row.queued_at),
    lockedUntil: date(row.locked_until),
    dsnOrcpt: strOrNull(row.dsn_orcpt),
    dsnNotify: strOrNull(row.dsn_notify),
    sender: str(row.sender),
    dsnEnvid: strOrNull(row.dsn_envid),
    dsnRet: ret === "FULL" || ret === "HDRS" ? ret : null,
    sizeBytes: num(row.size_bytes),
    kind: str(row.kind),
    submittedBy: str(row.submitted_by),
    processor: strOrNull(row.processor),
    ruleInvocations: num(row.rule_invocations),
    authenticated: row.authenticated === true || row.authenticated === "t",
  };
}
