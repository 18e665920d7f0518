import type { SMTPServerAddress, SMTPServerSession } from "smtp-server";
import { coerceError } from "../util/errors.ts";
import { checkAddress, checkParams, isAddressError } from "./address-check.ts";
import { sessionUser, type FrontendDeps } from "./deps.ts";
import { smtpError, type SmtpHookError } from "./reply.ts";

type Done = (err?: Error | null) => void;

/** MAIL FROM: syntax and parameters. SIZE, BODY, RET and ENVID are validated by smtp-server itself. */
export function onMailFrom(deps: FrontendDeps) {
  return (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => {
    const bad = checkParams(address.args, "MAIL");
    if (bad) return done(bad);
    if (address.address !== "") {
      const checked = checkAddress(address.address, "sender", session.envelope.smtpUtf8 === true);
      if (isAddressError(checked)) return done(checked);
    }
    deps.ctx.metrics.inc("mailcluster_smtp_mail_total", "MAIL FROM commands accepted");
    done();
  };
}

/**
 * RCPT TO: local domains need an existing, enabled account or alias; anything else is relaying,
 * allowed only to authenticated users, trusted networks and live cluster members.
 */
export function onRcptTo(deps: FrontendDeps) {
  return (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => {
    checkRecipient(deps, address, session).then(
      (err) => {
        deps.ctx.metrics.inc("mailcluster_smtp_rcpt_total", "RCPT TO commands by result", { result: err ? String(err.responseCode) : "250" });
        done(err);
      },
      (err: unknown) => {
        deps.ctx.logger.error({ err: coerceError(err).message, session: session.id }, "recipient check failed");
        done(smtpError(451, "4.3.0", "temporary failure checking the recipient, try again later"));
      },
    );
  };
}

async function checkRecipient(deps: FrontendDeps, address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpHookError | null> {
  const bad = checkParams(address.args, "RCPT");
  if (bad) return bad;
  const checked = checkAddress(address.address, "recipient", session.envelope.smtpUtf8 === true);
  if (isAddressError(checked)) return checked;
  if (!checked.ipLiteral) {
    // From memory: no query unless this process just changed the directory (see directory.ts).
    await deps.ctx.directory.whenFresh();
    const found = deps.ctx.directory.resolve(checked.address);
    switch (found.kind) {
      case "account":
        return found.enabled ? null : smtpError(550, "5.2.1", `mailbox <${checked.address}> is disabled`);
      case "alias":
        return null;
      case "unknown":
        return smtpError(550, "5.1.1", `no such user here: <${checked.address}>`);
      case "remote":
        break;
    }
  }
  const grant = await deps.relay.grant({ address: session.remoteAddress, authenticatedUser: sessionUser(session.user) });
  if (!grant) return smtpError(554, "5.7.1", `relaying denied for <${checked.address}>`);
  return null;
}
