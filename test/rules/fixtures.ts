import { messageFacts, type MessageFacts } from "../../src/rules/facts.ts";

/** A raw RFC 5322 message from header lines and a body. */
export function rawMessage(headers: Record<string, string | string[]>, body = "Hello.\r\n"): Uint8Array {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

export const baseHeaders = {
  From: "Alice Example <alice@example.org>",
  To: "Bob <bob@example.com>",
  Subject: "Quarterly report",
  "Message-ID": "<m1@example.org>",
  Date: "Mon, 05 Jan 2026 10:00:00 +0000",
};

export function facts(
  headers: Record<string, string | string[]> = baseHeaders,
  options: { body?: string; authenticated?: boolean; sender?: string; recipients?: string[] } = {},
): MessageFacts {
  return messageFacts({
    content: rawMessage(headers, options.body),
    authenticated: options.authenticated ?? false,
    sender: options.sender ?? "alice@example.org",
    recipients: options.recipients ?? ["bob@example.com"],
  });
}
