import { z } from "zod";
import { MAX_HEADER_SUMMARY_CHARS } from "../../queue/header-summary.ts";
import type { AttemptSearch } from "../../queue/attempt-search.ts";
import { BOUNCE_CLASSES } from "../../domain/bounce-class.ts";

/** Most attempts the API answers at once (the WebAdmin shows fewer per page). */
export const MAX_LOG_LIMIT = 1000;
export const DEFAULT_LOG_LIMIT = 200;
const OUTCOMES = ["delivered", "deferred", "failed"] as const;

const text = (max: number) => z.string().trim().min(1).max(max);

/** "2026-06-01T12:00" (what a datetime-local field sends, read as UTC) or an ISO time with its zone. */
const timeField = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .transform((raw, ctx) => {
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(raw) ? raw : `${raw}Z`);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: "custom", message: `not a time ("${raw}"); use 2026-06-01T12:00 (UTC) or an ISO time` });
      return z.NEVER;
    }
    return d;
  });

/**
 * The delivery log's search, for the admin API (GET /log) and the WebAdmin's form alike. Text
 * fields are bounded (a header value is at most 998 characters), the time range must run
 * forwards.
 */
export const logSearchQuery = z
  .object({
    recipient: text(320).optional().describe("substring of the recipient address"),
    sender: text(320).optional().describe("substring of the envelope sender"),
    subject: text(MAX_HEADER_SUMMARY_CHARS).optional().describe("substring of the Subject: (decoded)"),
    messageId: text(MAX_HEADER_SUMMARY_CHARS).optional().describe("the Message-ID: header, with or without <>"),
    queueId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe("queue id (messages.id)"),
    outcome: z.enum(OUTCOMES).optional(),
    bounceClass: z.enum(BOUNCE_CLASSES).optional().describe("class of the reply: bad_mailbox, mailbox_full, policy, dns, tls, rate_limited, other"),
    reply: text(200).optional().describe("substring of the reply text, or an enhanced status such as 5.1.1"),
    from: timeField.optional().describe("attempts started at or after (UTC unless a zone is given)"),
    to: timeField.optional().describe("attempts started before"),
    limit: z.coerce.number().int().min(1).max(MAX_LOG_LIMIT).optional(),
    before: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe("the next page: attempts listed after this attempt id (`next` of the previous answer)"),
  })
  .refine((q) => !q.from || !q.to || q.from < q.to, { error: "the time range is empty: from must be before to", path: ["to"] });

export type LogSearchQuery = z.output<typeof logSearchQuery>;

export function attemptSearchOf(q: LogSearchQuery, limit = DEFAULT_LOG_LIMIT): AttemptSearch {
  return {
    recipient: q.recipient,
    sender: q.sender,
    subject: q.subject,
    headerMessageId: q.messageId,
    messageId: q.queueId,
    outcome: q.outcome,
    bounceClass: q.bounceClass,
    reply: q.reply,
    from: q.from,
    to: q.to,
    before: q.before,
    limit: q.limit ?? limit,
  };
}
