import type { SMTPServerAddress } from "smtp-server";

/**
 * Two corrections to how smtp-server reads MAIL FROM / RCPT TO, applied by connection.ts.
 *
 * 1. Malformed UTF-8. smtp-server decodes the command line with Buffer.toString(), which turns
 *    invalid bytes into U+FFFD: `MAIL FROM:<j\xC3\x28rg@…>` would be accepted as an address
 *    nobody sent, and bounces would go there. The raw line is checked instead and refused with
 *    500 5.5.2, as Postfix does: the line cannot be read at all, so it is a syntax error (5.5.2),
 *    not a policy refusal of a non-ASCII address (5.6.7 would tell a client that correct UTF-8
 *    is not allowed either, which is false).
 *
 * 2. Path length. RFC 5321 4.5.3.1.3 allows a path of 256 octets INCLUDING the angle brackets,
 *    so an address of 254; smtp-server 3.21.6 refuses anything over 253 (an off-by-one). An
 *    address it refused at exactly 254 characters is parsed again with its local part one
 *    character shorter (removing the first character, chosen so that the dot rules it checks
 *    give the same answer) and restored afterwards; our own check (address-check.ts) then
 *    enforces 254 octets.
 */

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function isValidUtf8(line: Buffer | string): boolean {
  if (typeof line === "string") return true;
  try {
    strictUtf8.decode(line);
    return true;
  } catch {
    return false;
  }
}

export const MALFORMED_UTF8_REPLY = "5.5.2 Syntax error: the command is not valid UTF-8";

/** The RFC's longest address (smtp-server stops at 253). */
const RFC_LIMIT = 254;

export function parseAddressCommand<T extends SMTPServerAddress>(parse: (name: string, command: string) => T | false, name: string, rawCommand: Buffer | string): T | false {
  const command = rawCommand.toString();
  const parsed = parse(name, command);
  if (parsed !== false) return parsed;
  const m = /^([^:]*:\s*<)([^<>@]+)@([^<>]+)(>.*)$/s.exec(command);
  if (!m) return false;
  const [, head, local, domain, tail] = m;
  if (local.length + 1 + domain.length !== RFC_LIMIT || local.length < 2 || local[0] === "." || local[1] === ".") return false;
  const retried = parse(name, `${head}${local.slice(1)}@${domain}${tail}`);
  if (retried === false || !retried.address.startsWith(local.slice(1) + "@")) return false;
  return { ...retried, address: local + retried.address.slice(local.length - 1) };
}
