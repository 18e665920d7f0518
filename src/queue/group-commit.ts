import type { Db } from "../db/db.ts";
import { isStatementRejected } from "../db/sql-state.ts";
import { coerceError } from "../util/errors.ts";
import { bodyParts } from "./body.ts";
import { insertMessages } from "./insert-messages.ts";
import { submitMessage, validate } from "./submit.ts";
import type { SubmitInput, SubmitResult } from "./submit-input.ts";
import { type LocalWake, WorkerWakeUp } from "./wake-up.ts";

export interface SubmitBatcherOptions {
  db: Db;
  /** At most this many messages per statement. */
  maxMessages?: number;
  /** At most this many body bytes per statement (a message bigger than this still goes, alone). */
  maxBytes?: number;
  /** Nudge the local worker instead of a NOTIFY when a flush holds only this member's work. */
  localWake?: LocalWake;
  /** The member's coalesced NOTIFYs (ctx.wakeUp); by default the batcher's own on `db`. */
  wakeUp?: WorkerWakeUp;
  /** After each batch statement that committed, with how many messages it wrote (metrics, ingest first). */
  onFlushed?: (messages: number) => void;
}

interface Waiting {
  input: SubmitInput;
  part: Uint8Array;
  resolve: (r: SubmitResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Start the first write after the current I/O callbacks (setImmediate, not a timer): DATA
 * completions read from several sockets in the same event-loop turn share the statement, and
 * a lone message waits microseconds. Runtimes without setImmediate fall back to a 0 ms timeout.
 */
const defer: (fn: () => void) => void =
  typeof setImmediate === "function" ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

const DEFAULT_MAX_MESSAGES = 64;
// bytea travels hex-encoded: 4 MiB of bodies is about 8 MiB of parameters per statement.
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Group commit for SMTP DATA completions: messages that arrive while a write is in flight are
 * written together by ONE statement (insert-messages.ts) when it returns; each caller's promise
 * resolves only after that statement committed, so each 250 still follows its COMMIT. There is
 * no timer: an idle batcher writes a lone message at once, so one session waits no longer than
 * with submitMessage; under load the batch is whatever arrived during the previous write.
 *
 * Failure: when the batch statement is rejected by the server (a constraint, a trigger, a
 * deadlock: the statement is known to be rolled back), each of its messages is written again on
 * its own, so only the bad one fails and the others are committed as if alone. When the outcome
 * is unknown (connection lost, server shutting down) nothing is retried: every caller of the
 * batch gets the error (the frontend answers 451 4.3.0), because a retry could store a message
 * twice. Never partial: a message is all there (message, body, every recipient) or not at all.
 *
 * Messages larger than one body part use submitMessage's multi-part transaction, alone.
 */
export class SubmitBatcher {
  private readonly waiting: Waiting[] = [];
  private flushing = false;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly wakeUp: WorkerWakeUp;
  /** Statements the batcher ran and messages it wrote (metrics, tests). */
  readonly stats = { flushes: 0, messages: 0, retriedAlone: 0 };

  constructor(private readonly o: SubmitBatcherOptions) {
    this.maxMessages = o.maxMessages ?? DEFAULT_MAX_MESSAGES;
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
    this.wakeUp = o.wakeUp ?? new WorkerWakeUp(o.db);
  }

  submit(input: SubmitInput): Promise<SubmitResult> {
    try {
      validate(input);
    } catch (err) {
      return Promise.reject(coerceError(err));
    }
    const parts = bodyParts(input.content);
    if (parts.length > 1) return submitMessage(this.o.db, input, { wakeUp: this.wakeUp });
    return new Promise<SubmitResult>((resolve, reject) => {
      this.waiting.push({ input, part: parts[0], resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        defer(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) await this.flush(this.take());
    } finally {
      this.flushing = false;
    }
  }

  /** The next batch: in arrival order, within both caps, at least one message. */
  private take(): Waiting[] {
    let bytes = 0;
    let n = 0;
    while (n < this.waiting.length && n < this.maxMessages) {
      const size = this.waiting[n].part.byteLength;
      if (n > 0 && bytes + size > this.maxBytes) break;
      bytes += size;
      n++;
    }
    return this.waiting.splice(0, n);
  }

  private async flush(batch: Waiting[]): Promise<void> {
    this.stats.flushes++;
    try {
      const results = await insertMessages(this.o.db, batch.map((w) => ({ input: w.input, firstPart: w.part })));
      this.stats.messages += batch.length;
      batch.forEach((w, i) => w.resolve(results[i]));
      this.o.onFlushed?.(batch.length);
      this.wake(batch);
    } catch (err) {
      if (batch.length === 1 || !isStatementRejected(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      this.stats.retriedAlone += batch.length;
      const written: Waiting[] = [];
      await Promise.all(
        batch.map(async (w) => {
          try {
            const [result] = await insertMessages(this.o.db, [{ input: w.input, firstPart: w.part }]);
            this.stats.messages++;
            written.push(w);
            w.resolve(result);
          } catch (alone) {
            w.reject(alone);
          }
        }),
      );
      this.wake(written);
    }
  }

  private wake(batch: readonly Waiting[]): void {
    this.wakeUp.wakeProcessors(new Set(batch.map((w) => w.input.processor)), this.o.localWake);
  }
}
