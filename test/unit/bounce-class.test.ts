import { describe, expect, it } from "vitest";
import { BOUNCE_CLASSES, bounceClassOf, classifyReply, isBounceClass } from "../../src/domain/bounce-class.ts";

const r = (code: number, enhanced: string | null, text: string) => classifyReply({ code, enhanced, text });

describe("bounce classification", () => {
  it("bad mailbox: 5.1.1, 5.1.10, 5.1.0 with 'user unknown', texts without a status", () => {
    expect(r(550, "5.1.1", "<bob@example.org>: Recipient address rejected: User unknown in local recipient table")).toBe("bad_mailbox");
    expect(r(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")).toBe("bad_mailbox");
    expect(r(550, "5.1.0", "Address rejected: user unknown")).toBe("bad_mailbox");
    expect(r(550, null, "No such user here")).toBe("bad_mailbox");
    expect(r(550, "5.0.0", "mailbox does not exist")).toBe("bad_mailbox");
    expect(r(554, "5.2.1", "The email account that you tried to reach is disabled.")).toBe("bad_mailbox");
    expect(r(550, "5.2.1", "mailbox disabled, not accepting messages")).toBe("bad_mailbox");
  });

  it("a sender problem is never the recipient's bad mailbox", () => {
    expect(r(553, "5.1.7", "sender address invalid")).toBe("other");
    expect(r(550, "5.1.8", "sender domain unknown")).toBe("other");
  });

  it("mailbox full: 4.2.2 / 5.2.2 and quota texts (even with 'try again later')", () => {
    expect(r(452, "4.2.2", "The email account that you tried to reach is over quota. Please try again later")).toBe("mailbox_full");
    expect(r(552, "5.2.2", "mailbox full")).toBe("mailbox_full");
    expect(r(552, null, "Requested mail action aborted: exceeded storage allocation")).toBe("mailbox_full");
    expect(r(450, "4.0.0", "user is over quota")).toBe("mailbox_full");
  });

  it("policy: 5.7.x, spam, blocked, policy", () => {
    expect(r(550, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using Spamhaus")).toBe("policy");
    expect(r(550, "5.7.26", "Unauthenticated email from example.org is not accepted due to domain's DMARC policy")).toBe("policy");
    expect(r(554, null, "Message rejected as spam")).toBe("policy");
    expect(r(550, "5.0.0", "Blocked by recipient policy")).toBe("policy");
    expect(r(550, "5.7.1", "Recipient address rejected: unknown user")).toBe("policy");
    expect(r(550, "5.7.99", "no reason given")).toBe("policy");
  });

  it("dns: NXDOMAIN, 5.1.2, 4.4.3, 5.4.4, no MX", () => {
    expect(r(550, "5.1.2", "Host or domain name not found: nowhere.example (NXDOMAIN)")).toBe("dns");
    expect(r(451, "4.4.3", "DNS lookup of MX for example.org failed temporarily: ESERVFAIL")).toBe("dns");
    expect(r(550, "5.4.4", "Host or domain name not found: no address")).toBe("dns");
    expect(r(451, null, "no MX record for example.org")).toBe("dns");
  });

  it("tls: 4.7.5, 5.7.10, 4.7.4 and STARTTLS texts", () => {
    expect(r(451, "4.7.5", "MTA-STS policy enforce: certificate does not match")).toBe("tls");
    expect(r(530, "5.7.10", "Must issue a STARTTLS command first")).toBe("tls");
    expect(r(451, "4.7.4", "TLS failed or was not offered: ETLS")).toBe("tls");
    expect(r(454, "4.7.0", "TLS not available due to local problem")).toBe("tls");
    expect(r(451, null, "STARTTLS handshake failed")).toBe("tls");
  });

  it("rate limited: 421 4.7.0 try again later, 4.7.28, 'rate limit', 'too many'", () => {
    expect(r(421, "4.7.0", "Try again later, closing connection. (EHLO) - gsmtp")).toBe("rate_limited");
    expect(r(421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail")).toBe("rate_limited");
    expect(r(450, null, "rate limit exceeded for this sender")).toBe("rate_limited");
    expect(r(421, null, "Too many connections from your IP")).toBe("rate_limited");
    expect(r(451, "4.7.500", "Server busy. Please try again later")).toBe("rate_limited");
    expect(r(452, "4.5.3", "Too many recipients")).toBe("rate_limited");
  });

  it("other: protocol, size, connection trouble, no text at all", () => {
    expect(r(451, "4.4.2", "connection lost")).toBe("other");
    expect(r(451, "4.4.1", "no host of example.org could be reached")).toBe("other");
    expect(r(552, "5.3.4", "message size 9000000 exceeds the server's limit of 1000 bytes")).toBe("other");
    expect(r(554, null, "")).toBe("other");
    expect(r(500, "bogus", "syntax error")).toBe("other");
  });

  it("a long hostile text is classified quickly (no catastrophic backtracking)", () => {
    const text = "user ".repeat(50_000) + "x";
    const started = Date.now();
    expect(r(550, null, text)).toBe("other");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("delivered outcomes carry no class; the names are known", () => {
    expect(bounceClassOf({ kind: "delivered", reply: { code: 250, enhanced: "2.0.0", text: "ok" } })).toBeNull();
    expect(bounceClassOf({ kind: "failed", reply: { code: 550, enhanced: "5.1.1", text: "no" } })).toBe("bad_mailbox");
    expect(BOUNCE_CLASSES).toHaveLength(7);
    expect(isBounceClass("policy")).toBe(true);
    expect(isBounceClass("spam")).toBe(false);
  });
});
