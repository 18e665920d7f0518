/**
 * A group commit with two or more messages means sessions were waiting on each other: the
 * member is busy accepting. Ingest counts as busy for this long after such a commit: long
 * enough that a pause of the event loop (a delivery batch, a collection) does not end a hold
 * mid-burst (with 50 ms, bench:compare's accepted rate spread 1,208–2,444 msg/s between rounds;
 * with 200, 1,805–2,234), short enough that the last of a burst waits little for it.
 */
export const INGEST_BUSY_WINDOW_MS = 200;

/**
 * Accepting comes first in a member that both accepts SMTP and delivers: while its sessions
 * queue up behind each other (group commits of several messages), its queue worker holds off
 * claiming what was just accepted, for at most `maxDeferMs` after it was committed. A burst is
 * then answered at the rate ingest alone allows, and delivered right after in full batches
 * (cheaper per message than the small ones delivery would take while competing for the same
 * event loop). Under sustained load delivery runs `maxDeferMs` behind, never further: what is
 * older than that is claimed at once. One session alone (a commit of one message at a time)
 * holds nothing back.
 *
 * The worker claims oldest first; this tracks, per commit, how many of the accepted messages
 * are still unclaimed, removing from the front as the worker claims. It is an estimate (the
 * claim also takes retries and other members' work): a claim that comes back short means
 * nothing accepted is still waiting, and the tracking starts afresh.
 */
export class IngestFirst {
  /** Commits whose messages are not all claimed yet: [committed at ms, messages left]. */
  private readonly pending: Array<[number, number]> = [];
  private busyUntil = 0;
  private claimStartedAt = Number.POSITIVE_INFINITY;

  constructor(
    /**
     * Milliseconds on a monotonic clock. Real time, not the member's clock: holds are waited
     * out with timers, and a test clock that stands still must not hold delivery forever.
     */
    private readonly now: () => number,
    /** 0 turns it off (read on every call: it is a live setting). */
    private readonly maxDeferMs: () => number,
  ) {}

  /**
   * A group commit wrote `messages` accepted messages. All count, whoever processes them: a
   * frontend submitting remotely holds its worker too, which would otherwise wake for each
   * commit only to find nothing it may claim (an empty claim still scans the ready rows).
   */
  committed(messages: number): void {
    if (messages <= 0) return;
    const now = this.now();
    if (messages >= 2) this.busyUntil = now + INGEST_BUSY_WINDOW_MS;
    this.pending.push([now, messages]);
  }

  /** The worker is about to claim. */
  claiming(): void {
    this.claimStartedAt = this.now();
  }

  /** The worker claimed `count` recipients; `more` were ready than it took. */
  claimed(count: number, more: boolean): void {
    if (!more) {
      // All that was ready when the claim ran is taken; a commit that landed during it may not be.
      const before = this.claimStartedAt;
      while (this.pending.length > 0 && this.pending[0][0] <= before) this.pending.shift();
      return;
    }
    let left = count;
    while (left > 0 && this.pending.length > 0) {
      const head = this.pending[0];
      const take = Math.min(left, head[1]);
      head[1] -= take;
      left -= take;
      if (head[1] === 0) this.pending.shift();
    }
  }

  /** How long the worker should wait before its next claim: 0 = claim now. */
  holdMs(): number {
    const max = this.maxDeferMs();
    if (max <= 0 || this.pending.length === 0) return 0;
    const now = this.now();
    if (now >= this.busyUntil) return 0;
    const oldestDueIn = this.pending[0][0] + max - now;
    if (oldestDueIn <= 0) return 0;
    // Look again when ingest may have gone quiet or the oldest comes due, whichever is first.
    return Math.max(1, Math.min(oldestDueIn, this.busyUntil - now));
  }
}
