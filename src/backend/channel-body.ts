import type { Sha256 } from "./sha256-stream.ts";

/** The request carried more than the channel's byte limit. */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** The body stream failed (the client went away, a broken chunked encoding). */
export class BodyReadError extends Error {
  override name = "BodyReadError";
}

/**
 * Pull-based reading of a request body (a Web ReadableStream, so the same on every runtime):
 * a line, exactly n bytes into the caller's buffer, or n bytes skipped. Nothing is read ahead
 * of what the caller asks for beyond the chunk in hand, so an unread body stays in the
 * socket, and every byte taken counts against `maxBytes`.
 */
export class BodyReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private ended = false;
  total = 0;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly maxBytes: number,
  ) {}

  static of(body: ReadableStream<Uint8Array> | null, maxBytes: number): BodyReader {
    const stream = body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return new BodyReader(stream.getReader(), maxBytes);
  }

  /** Bytes of the current chunk not handed out yet; refills from the stream when empty. */
  private async available(): Promise<number> {
    while (this.at >= this.chunk.byteLength) {
      if (this.ended) return 0;
      let step: Awaited<ReturnType<typeof this.reader.read>>;
      try {
        step = await this.reader.read();
      } catch (err) {
        throw new BodyReadError(`could not read the request: ${err instanceof Error ? err.message : String(err)}`);
      }
      const { done, value } = step;
      if (done) {
        this.ended = true;
        return 0;
      }
      this.total += value.byteLength;
      if (this.total > this.maxBytes) throw new BodyTooLarge(`request larger than ${this.maxBytes} bytes`);
      this.chunk = value;
      this.at = 0;
    }
    return this.chunk.byteLength - this.at;
  }

  /**
   * The bytes up to the next newline (excluded). Null when the body ends first or the line
   * would be longer than `maxLine`.
   */
  async readLine(maxLine: number): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (;;) {
      const n = await this.available();
      if (n === 0) return null;
      const view = this.chunk.subarray(this.at);
      const nl = view.indexOf(0x0a);
      const take = nl >= 0 ? nl : view.byteLength;
      if (length + take > maxLine) return null;
      parts.push(view.subarray(0, take));
      length += take;
      if (nl >= 0) {
        this.at += nl + 1;
        return concat(parts, length);
      }
      this.at += take;
    }
  }

  /** Fill `into` completely, hashing as it goes; returns how many bytes arrived (fewer = the body ended). */
  async readInto(into: Uint8Array, hash?: Sha256): Promise<number> {
    let filled = 0;
    while (filled < into.byteLength) {
      const n = await this.available();
      if (n === 0) break;
      const take = Math.min(n, into.byteLength - filled);
      const piece = this.chunk.subarray(this.at, this.at + take);
      into.set(piece, filled);
      hash?.update(piece);
      this.at += take;
      filled += take;
    }
    return filled;
  }

  /** Discard n bytes without keeping them; returns how many there were. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const have = await this.available();
      if (have === 0) break;
      const take = Math.min(have, n - skipped);
      this.at += take;
      skipped += take;
    }
    return skipped;
  }

  /** True when nothing follows. */
  async atEnd(): Promise<boolean> {
    return (await this.available()) === 0;
  }

  /** Stop reading: the rest of the body is left to the runtime to discard. */
  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
