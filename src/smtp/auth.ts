import { eq } from "drizzle-orm";
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from "smtp-server";
import { canonicalAddress } from "../accounts/store.ts";
import { isMemberUser, verifyMemberCredentials } from "../cluster/member-credentials.ts";
import { hashPassword, verifyPassword } from "../accounts/password.ts";
import { accounts } from "../db/schema/index.ts";
import { coerceError } from "../util/errors.ts";
import type { FrontendDeps } from "./deps.ts";
import { smtpError } from "./reply.ts";

type Done = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

// Unknown users cost one scrypt too, so response time does not reveal which accounts exist.
let dummyHash: Promise<string> | null = null;

/**
 * AUTH PLAIN / LOGIN against the accounts table, with per-IP failure throttling. A user name
 * `member:<name>` is another cluster member handing off mail (forwarding server "*"): its
 * password is checked against the cluster secret instead (see member-credentials.ts).
 */
export function onAuth(deps: FrontendDeps) {
  return (auth: SMTPServerAuthentication, session: SMTPServerSession, done: Done): void => {
    authenticate(deps, auth, session).then(
      (user) => done(null, { user }),
      (err: unknown) => done(coerceError(err)),
    );
  };
}

async function authenticate(deps: FrontendDeps, auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<string> {
  const { ctx, throttle } = deps;
  const ip = session.remoteAddress;
  const lockedFor = throttle.lockedFor(ip);
  if (lockedFor > 0) {
    ctx.metrics.inc("mailcluster_smtp_auth_total", "AUTH attempts by result", { result: "locked" });
    throw smtpError(454, "4.7.0", `too many failed authentications, try again in ${lockedFor} seconds`);
  }
  if (auth.method !== "PLAIN" && auth.method !== "LOGIN") throw smtpError(504, "5.5.4", "unsupported authentication mechanism");
  if (isMemberUser(auth.username ?? "")) return authenticateMember(deps, auth, session);
  const username = canonicalAddress(auth.username ?? "");
  // PLAIN may name an authorization identity; acting as someone else is not offered.
  const authzOk = !auth.authzid || canonicalAddress(auth.authzid) === username;
  let ok = false;
  try {
    const [acct] = await ctx.db.select({ hash: accounts.passwordHash, enabled: accounts.enabled }).from(accounts).where(eq(accounts.address, username));
    dummyHash ??= hashPassword("no such account");
    const matches = await verifyPassword(auth.password ?? "", acct?.hash ?? (await dummyHash));
    ok = matches && authzOk && acct !== undefined && acct.enabled;
  } catch (err) {
    ctx.logger.error({ err: coerceError(err).message, session: session.id }, "authentication lookup failed");
    throw smtpError(454, "4.7.0", "temporary authentication failure");
  }
  if (ok) {
    throttle.succeed(ip);
    ctx.metrics.inc("mailcluster_smtp_auth_total", "AUTH attempts by result", { result: "ok" });
    return username;
  }
  return refuse(deps, session, username);
}

async function authenticateMember(deps: FrontendDeps, auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<string> {
  const { ctx } = deps;
  let from: string | null;
  try {
    const secret = await ctx.clusterSecret.get();
    from = auth.authzid && auth.authzid !== auth.username ? null : verifyMemberCredentials(secret, auth.username ?? "", auth.password ?? "", ctx.config.memberName, ctx.clock.now());
  } catch (err) {
    ctx.logger.error({ err: coerceError(err).message, session: session.id }, "cluster secret lookup failed");
    throw smtpError(454, "4.7.0", "temporary authentication failure");
  }
  if (from === null) return refuse(deps, session, auth.username ?? "");
  deps.throttle.succeed(session.remoteAddress);
  ctx.metrics.inc("mailcluster_smtp_auth_total", "AUTH attempts by result", { result: "member" });
  return `member:${from}`;
}

async function refuse(deps: FrontendDeps, session: SMTPServerSession, username: string): Promise<never> {
  const { ctx, throttle } = deps;
  const ip = session.remoteAddress;
  const s = ctx.settings();
  const wait = throttle.fail(ip, { maxFailures: s.smtp_auth_max_failures, failureDelayMs: s.smtp_auth_failure_delay_ms, lockoutSeconds: s.smtp_auth_lockout_seconds });
  ctx.metrics.inc("mailcluster_smtp_auth_total", "AUTH attempts by result", { result: "failed" });
  ctx.logger.info({ session: session.id, ip, user: username, failures: throttle.failures(ip) }, "authentication failed");
  await deps.delay(wait);
  throw smtpError(535, "5.7.8", "authentication credentials invalid");
}
