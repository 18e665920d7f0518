import { simpleParser, type StructuredHeader } from "mailparser";

export interface ParsedDsn {
  subject: string | undefined;
  from: string | undefined;
  to: string | undefined;
  autoSubmitted: string | undefined;
  contentType: { value: string; params: Record<string, string> };
  human: string;
  perMessage: Record<string, string>;
  recipients: Record<string, string>[];
  /** The third part: message/rfc822 (FULL) or text/rfc822-headers (HDRS). */
  returned: { contentType: string; content: string } | null;
}

/** Header-style fields of one block, with folded lines unfolded. */
function fields(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  const unfolded = block.replace(/\r?\n[ \t]+/g, " ");
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Read a DSN back with mailparser. mailparser shows message/delivery-status inline after the
 * human-readable part, so the machine-readable fields are taken from the text from
 * "Reporting-MTA:" on; the returned message or headers come as the attachment.
 */
export async function parseDsn(raw: Buffer): Promise<ParsedDsn> {
  const p = await simpleParser(raw);
  const text = p.text ?? "";
  const at = text.indexOf("Reporting-MTA:");
  if (at < 0) throw new Error("no message/delivery-status part found");
  const blocks = text.slice(at).trim().split(/\r?\n\s*\r?\n/);
  // mailparser reads Content-Type into { value, params } (libmime's parseHeaderValue), or there is none.
  const ct = p.headers.get("content-type") as StructuredHeader | undefined;
  const contentType = ct ? { value: ct.value, params: ct.params } : { value: String(ct), params: {} };
  const att = p.attachments[0];
  const auto = p.headers.get("auto-submitted");
  return {
    subject: p.subject,
    from: p.from?.value[0]?.address,
    to: Array.isArray(p.to) ? p.to[0]?.value[0]?.address : p.to?.value[0]?.address,
    autoSubmitted: typeof auto === "string" ? auto : undefined,
    contentType,
    human: text.slice(0, at),
    perMessage: fields(blocks[0]),
    recipients: blocks.slice(1).map(fields),
    returned: att ? { contentType: att.contentType, content: att.content.toString("utf8") } : null,
  };
}
