import type { SMTPServerDataStream } from "smtp-server";

/** The message as received, in chunks: the caller concatenates once, with the Received: header in front. */
export type ReadResult = { kind: "complete"; chunks: Buffer[]; bytes: number } | { kind: "too-big"; bytes: number };

/**
 * Reads the DATA stream, keeping at most maxBytes in memory: past the limit the rest is drained
 * and dropped. Rejects when the client goes away before the final dot, so a half-received message
 * can never be committed.
 */
export function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<ReadResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let ended = false;
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    stream.once("end", () => {
      ended = true;
      if (bytes > maxBytes || stream.sizeExceeded) resolve({ kind: "too-big", bytes });
      else resolve({ kind: "complete", chunks, bytes });
    });
    stream.once("error", (err: Error) => reject(err));
    stream.once("close", () => {
      if (!ended) reject(new Error("connection closed before the end of DATA"));
    });
  });
}
