import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * SMTP credentials one member presents to another on a hand-off (forwarding server "*"),
 * derived from the cluster secret instead of trusting the sender's IP address.
 *
 * user: `member:<sender name>`; password: `v1.<unix seconds>.<HMAC-SHA256>` over the sender,
 * the receiving member and the time. A password is good for one receiving member and a few
 * minutes only, so one that leaks (it travels inside STARTTLS whose certificate nobody
 * verifies: members have no common CA) cannot be replayed elsewhere or later.
 */
export const MEMBER_USER_PREFIX = "member:";

/** Accepted clock difference between members, either way. */
export const MEMBER_TOKEN_WINDOW_SECONDS = 300;

export interface MemberCredentials {
  user: string;
  pass: string;
}

function mac(secret: string, from: string, to: string, seconds: number): Buffer {
  return createHmac("sha256", secret).update(`mailcluster smtp hand-off\n${from}\n${to}\n${seconds}`).digest();
}

export function memberCredentials(secret: string, from: string, to: string, now: Date): MemberCredentials {
  const seconds = Math.floor(now.getTime() / 1000);
  return { user: `${MEMBER_USER_PREFIX}${from}`, pass: `v1.${seconds}.${mac(secret, from, to, seconds).toString("base64url")}` };
}

/** Whether the user name claims to be a member (an account address always has an "@" and never this prefix). */
export function isMemberUser(user: string): boolean {
  return user.startsWith(MEMBER_USER_PREFIX);
}

/** The sending member's name when the credentials are valid for `self` now, else null. */
export function verifyMemberCredentials(secret: string, user: string, pass: string, self: string, now: Date): string | null {
  if (!isMemberUser(user)) return null;
  const from = user.slice(MEMBER_USER_PREFIX.length);
  const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(pass);
  if (from === "" || !m) return null;
  const seconds = Number(m[1]);
  if (Math.abs(now.getTime() / 1000 - seconds) > MEMBER_TOKEN_WINDOW_SECONDS) return null;
  const given = Buffer.from(m[2], "base64url");
  const expected = mac(secret, from, self, seconds);
  return given.length === expected.length && timingSafeEqual(given, expected) ? from : null;
}
