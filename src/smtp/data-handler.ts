import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import type { ClientInfo, DsnNotify, Envelope } from "../domain/types.ts";
import { headerSummaryFromFields } from "../queue/header-summary.ts";
import { coerceError } from "../util/errors.ts";
import { MAX_HEADER_BYTES, parseHeaderFields } from "../util/headers.ts";
import { sessionUser, type FrontendDeps } from "./deps.ts";
import { readMessage } from "./message-reader.ts";
import { receivedHeader } from "./received.ts";
import { replyError, smtpError } from "./reply.ts";

type Done = (err?: Error | null, message?: string) => void;

/**
 * DATA: read (capped), refuse oversize and NUL bytes, run the submission rules once, prepend
 * Received:, and commit message + body + recipients in one transaction BEFORE answering 250.
 *
 * Queue id: messages.id is an identity column assigned by the INSERT, so it does not exist yet
 * when the Received: header (part of the stored body) is written. Rather than a second round
 * trip to reserve an id, Received: carries the frontend transaction id (session id + transaction
 * number, also in the log line) and the 250 reply carries the queue id.
 */
export function onData(deps: FrontendDeps) {
  return (stream: SMTPServerDataStream, session: SMTPServerSession, done: Done): void => {
    const max = deps.ctx.settings().max_message_bytes;
    readMessage(stream, max)
      .then(async (read) => {
        if (read.kind === "too-big") {
          count(deps, "too-big");
          deps.ctx.logger.info({ session: session.id, bytes: read.bytes, max, client: session.remoteAddress }, "message refused: too big");
          done(smtpError(552, "5.3.4", `message exceeds fixed maximum message size of ${max} bytes`));
          return;
        }
        const reply = await accept(deps, session, read.chunks, read.bytes);
        done(null, reply);
      })
      .catch((err: unknown) => {
        const e = coerceError(err);
        if (isHookError(e)) {
          done(e);
          return;
        }
        // The client left mid-DATA, or the database failed: nothing was committed.
        count(deps, "failed");
        deps.ctx.logger.warn({ session: session.id, err: e.message }, "message not accepted");
        done(smtpError(451, "4.3.0", "local error in processing, message not accepted; try again later"));
      });
  };
}

function isHookError(e: Error): boolean {
  return typeof (e as { responseCode?: unknown }).responseCode === "number";
}

function count(deps: FrontendDeps, result: string): void {
  deps.ctx.metrics.inc("mailcluster_smtp_messages_total", "Messages at DATA by result", { result });
}

async function accept(deps: FrontendDeps, session: SMTPServerSession, chunks: Buffer[], bytes: number): Promise<string> {
  const { ctx } = deps;
  if (chunks.some((c) => c.includes(0))) {
    count(deps, "rejected");
    throw smtpError(554, "5.6.0", "message contains NUL bytes");
  }
  const envelope = envelopeOf(session);
  const user = sessionUser(session.user);
  const tls = session.tlsOptions ? `${session.tlsOptions.version} ${session.tlsOptions.name}` : null;
  const client: ClientInfo = {
    address: session.remoteAddress,
    // Reverse lookup is off (DNS is injected, and a PTR proves nothing): smtp-server then puts "[ip]" here.
    hostname: session.clientHostname && !session.clientHostname.startsWith("[") ? session.clientHostname : null,
    helo: session.hostNameAppearsAs || null,
    authenticatedUser: user,
    tls: session.secure,
    protocol: session.transmissionType,
  };
  const headers = parseHeaderFields(prefix(chunks, MAX_HEADER_BYTES));
  const verdict = await deps.rules.evaluate({ envelope, headers, client, sizeBytes: bytes });
  ctx.metrics.inc("mailcluster_rule_invocations_total", "Server-/cluster-wide rule invocations at submission", { stage: "smtp" });
  if (verdict.kind === "reject") {
    count(deps, "rejected");
    ctx.logger.info({ session: session.id, sender: envelope.sender, recipients: envelope.recipients.length, reply: verdict.reply }, "message refused by rules");
    throw replyError(verdict.reply);
  }
  const txid = `${session.id}.${session.transaction}`;
  if (verdict.kind === "discard") {
    count(deps, "discarded");
    ctx.logger.info({ session: session.id, txid, sender: envelope.sender, recipients: envelope.recipients.length }, "message discarded by rules");
    return `2.0.0 Ok: ${txid} discarded by policy`;
  }
  const now = ctx.clock.now();
  const trace = receivedHeader({
    helo: client.helo ?? null,
    clientHostname: client.hostname ?? null,
    clientAddress: session.remoteAddress,
    byHost: ctx.config.hostname,
    protocol: session.transmissionType,
    tls,
    authenticatedUser: user,
    id: txid,
    recipient: envelope.recipients.length === 1 ? envelope.recipients[0].address : null,
    date: now,
  });
  const extra = (verdict.addHeaders ?? []).map((h) => h.replace(/[\r\n]+/g, " ") + "\r\n").join("");
  // One copy of the message: trace header and chunks concatenated once (a 25 MiB message must not exist three times).
  const head = Buffer.from(trace + extra, "utf8");
  // DKIM-Signature (outbound) or Authentication-Results (inbound) on top, before the body is stored.
  const parts = await deps.messageAuth({ session: session.id, clientAddress: session.remoteAddress, helo: client.helo ?? null, sender: envelope.sender, user, headers, parts: [head, ...chunks] });
  const content = Buffer.concat(parts);
  chunks.length = 0;
  const result = await deps.submit({
    envelope: verdict.recipients ? { ...envelope, recipients: verdict.recipients } : envelope,
    content,
    client,
    submittedBy: ctx.config.memberName,
    processor: await deps.processor(),
    ruleInvocations: 1,
    now,
    headers: headerSummaryFromFields(headers),
  });
  count(deps, "accepted");
  ctx.logger.info(
    { session: session.id, txid, queueId: result.messageId, sender: envelope.sender, recipients: envelope.recipients.length, bytes: content.byteLength, client: session.remoteAddress, user, tls: session.secure },
    "message accepted",
  );
  return `2.0.0 Ok: queued as ${result.messageId}`;
}

function prefix(chunks: Buffer[], max: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (const c of chunks) {
    if (n >= max) break;
    parts.push(c);
    n += c.byteLength;
  }
  return Buffer.concat(parts);
}

function envelopeOf(session: SMTPServerSession): Envelope {
  const from = session.envelope.mailFrom;
  const dsn = session.envelope.dsn;
  return {
    sender: from ? from.address : "",
    envid: dsn?.envid ?? null,
    ret: dsn?.ret === "FULL" || dsn?.ret === "HDRS" ? dsn.ret : null,
    recipients: session.envelope.rcptTo.map((r) => ({
      address: r.address,
      orcpt: r.dsn?.orcpt ?? null,
      notify: r.dsn?.notify ? r.dsn.notify.filter(isNotify) : null,
    })),
  };
}

function isNotify(v: string): v is DsnNotify {
  return v === "NEVER" || v === "SUCCESS" || v === "FAILURE" || v === "DELAY";
}
