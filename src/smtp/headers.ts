import type { HeaderField } from "../domain/submission-rules.ts";

// Rules look at headers only; more than MAX_HEADER_BYTES is not a header block worth reading.
import { MAX_HEADER_BYTES } from "../util/headers.ts";

/** The header block (up to the first empty line), unfolded. Tolerates bare LF. */
export function parseHeaders(content: Uint8Array): HeaderField[] {
  const buf = Buffer.from(content.buffer, content.byteOffset, Math.min(content.byteLength, MAX_HEADER_BYTES));
  let end = buf.indexOf("\r\n\r\n");
  if (end < 0) end = buf.indexOf("\n\n");
  const text = buf.toString("utf8", 0, end < 0 ? buf.length : end);
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1].value += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}
