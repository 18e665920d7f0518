import { MAX_HEADER_BYTES } from "../util/headers.ts";

/**
 * The header section of a raw message, unfolded, names lower-cased, values in order. Enough
 * for rules and for the mailbox listing (From, Subject); no MIME decoding of the body.
 */
export type Headers = ReadonlyMap<string, readonly string[]>;

export function parseHeaders(raw: Uint8Array): Headers {
  const text = new TextDecoder("utf-8").decode(raw.subarray(0, MAX_HEADER_BYTES));
  const end = text.search(/\r?\n\r?\n/);
  const section = end < 0 ? text : text.slice(0, end);
  const out = new Map<string, string[]>();
  let name: string | null = null;
  let value = "";
  const flush = () => {
    if (name === null) return;
    const list = out.get(name);
    if (list) list.push(value.trim());
    else out.set(name, [value.trim()]);
  };
  for (const line of section.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && name !== null) {
      value += " " + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    if (colon <= 0) {
      name = null;
      continue;
    }
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return out;
}

export function header(h: Headers, name: string): string | null {
  return h.get(name.toLowerCase())?.[0] ?? null;
}
