import libmime from "libmime";
// Rules look at headers only; a header block beyond MAX_HEADER_BYTES is not read (the body never is).
import { MAX_HEADER_BYTES } from "../util/headers.ts";

/** Index of the first byte of the body: just after the blank line, or the end when there is none. */
export function headerEnd(content: Uint8Array): { end: number; bodyStart: number } {
  const limit = Math.min(content.length, MAX_HEADER_BYTES);
  for (let i = 0; i < limit; i++) {
    if (content[i] !== 10) continue;
    if (content[i + 1] === 10) return { end: i + 1, bodyStart: i + 2 };
    if (content[i + 1] === 13 && content[i + 2] === 10) return { end: i + 1, bodyStart: i + 3 };
  }
  return { end: limit, bodyStart: limit };
}

/**
 * The header fields of a message, names compared case-insensitively, values unfolded and
 * RFC 2047-decoded. Only the header block is read, so big bodies cost nothing.
 */
export class MessageHeaders {
  private readonly fields = new Map<string, string[]>();

  constructor(lines: ReadonlyArray<readonly [string, string]>) {
    for (const [name, value] of lines) {
      const key = name.toLowerCase();
      const list = this.fields.get(key);
      if (list) list.push(value);
      else this.fields.set(key, [value]);
    }
  }

  /** From already split fields (e.g. the SMTP frontend's), values still RFC 2047-encoded. */
  static fromFields(fields: ReadonlyArray<{ name: string; value: string }>): MessageHeaders {
    return new MessageHeaders(fields.map((f) => [f.name, decodeValue(f.value)] as const));
  }

  static parse(content: Uint8Array): MessageHeaders {
    const { end } = headerEnd(content);
    const text = new TextDecoder("utf-8").decode(content.subarray(0, end));
    return new MessageHeaders(splitHeaderFields(text));
  }

  /** Every occurrence of the field, in message order; [] when absent. */
  all(name: string): string[] {
    return this.fields.get(name.toLowerCase()) ?? [];
  }

  first(name: string): string | null {
    return this.all(name)[0] ?? null;
  }

  has(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }

  names(): string[] {
    return [...this.fields.keys()];
  }
}

/** Splits a header block into [name, decoded value] pairs; lines that are not fields are skipped. */
export function splitHeaderFields(block: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let current: string | null = null;
  const flush = () => {
    if (current === null) return;
    const colon = current.indexOf(":");
    if (colon > 0) {
      const name = current.slice(0, colon).trim();
      if (/^[!-9;-~]+$/.test(name)) out.push([name, decodeValue(current.slice(colon + 1))]);
    }
    current = null;
  };
  for (const line of block.split(/\r?\n/)) {
    if (line === "") break;
    if ((line.startsWith(" ") || line.startsWith("\t")) && current !== null) current += line;
    else {
      flush();
      current = line;
    }
  }
  flush();
  return out;
}

function decodeValue(raw: string): string {
  const unfolded = raw.replace(/\s+/g, " ").trim();
  // Most fields carry no encoded word; skipping the decoder for them halves the parsing cost.
  if (!unfolded.includes("=?")) return unfolded;
  try {
    return libmime.decodeWords(unfolded);
  } catch {
    // A broken encoded word is matched as written rather than failing the whole message.
    return unfolded;
  }
}
