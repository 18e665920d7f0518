import libmime from "libmime";
import { parseHeaderFields } from "../util/headers.ts";

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

  /** From a raw message: its header block as src/util/headers.ts reads it, values decoded. */
  static parse(content: Uint8Array): MessageHeaders {
    return MessageHeaders.fromFields(parseHeaderFields(content));
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
