import type { DsnRet } from "../domain/types.ts";
import { date, num, type Row, str, strOrNull } from "../db/rows.ts";

/** A recipient a member holds under lease, with what a delivery needs of its message. */
export interface ClaimedRecipient {
  id: number;
  messageId: number;
  address: string;
  domain: string;
  /** Attempts made before this one. */
  attempts: number;
  queuedAt: Date;
  lockedUntil: Date;
  dsnOrcpt: string | null;
  dsnNotify: string | null;
  sender: string;
  dsnEnvid: string | null;
  dsnRet: DsnRet | null;
  sizeBytes: number;
  kind: string;
  submittedBy: string;
  /** The member that processes the message (null: the shared pool). */
  processor: string | null;
  /** How often server-/cluster-wide rules ran for the message (reported when it is done). */
  ruleInvocations: number;
  /** The message was submitted by an authenticated client (the account rules may ask). */
  authenticated: boolean;
}

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
