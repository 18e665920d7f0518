import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { payloadFor, QUEUE_CHANNEL } from "./channel.ts";

const notify = (db: Executor, payload: string) => db.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${payload})`);

/** Under load, a follow-up NOTIFY waits this long: a few ms of latency, far fewer notifications. */
const FOLLOW_UP_DELAY_MS = 5;

/** The member's own queue worker, nudged in process (no NOTIFY round trip). */
export interface LocalWake {
  member: string;
  /** Wakes the local worker; false when this member runs none. */
  nudge: () => boolean;
}

/**
 * Wake-ups of the queue workers after commits on one database handle, coalesced: at most one
 * NOTIFY in flight, plus one more (a few ms later) if wake-ups arrived meanwhile. A NOTIFY
 * inside each submit transaction would serialise all commits on PostgreSQL's notify-queue lock
 * (about 300 commits/s here); workers treat any notification as "look now", and polling covers
 * a lost one. Member makes one for its database (ctx.wakeUp); a group commit given none makes
 * its own.
 */
export class WorkerWakeUp {
  private inFlight = false;
  private again = false;
  private payload = "";

  constructor(private readonly db: Executor) {}

  /** Wake workers for `payload` (channel.ts: a processor's name, the pool's, "" for everyone): now, or with the follow-up. */
  wake(payload: string): void {
    if (this.inFlight) {
      // The follow-up stands for every wake-up since: one processor's name only if all named it.
      this.payload = this.again && this.payload !== payload ? "" : payload;
      this.again = true;
      return;
    }
    this.payload = payload;
    void this.send();
  }

  /**
   * One wake-up for everything one commit wrote (a group commit: many messages). When every
   * message is this member's own to process and its worker runs here, the worker is nudged in
   * process; otherwise one coalesced NOTIFY reaches the other members.
   */
  wakeProcessors(processors: ReadonlySet<string | null>, local?: LocalWake): void {
    if (processors.size === 0) return;
    const onlyOwn = local !== undefined && processors.size === 1 && processors.has(local.member);
    if (onlyOwn && local.nudge()) return;
    const [first] = processors;
    this.wake(processors.size === 1 ? payloadFor(first) : "");
  }

  private async send(): Promise<void> {
    this.inFlight = true;
    try {
      do {
        if (this.again) await new Promise((r) => setTimeout(r, FOLLOW_UP_DELAY_MS));
        this.again = false;
        await notify(this.db, this.payload).catch(() => {
          // A lost wake-up only costs latency: workers poll.
        });
      } while (this.again);
    } finally {
      this.inFlight = false;
    }
  }
}

export interface WakeOptions {
  /** `db` is the caller's open transaction: the NOTIFY goes in it, delivered at its COMMIT (or never). */
  inTransaction?: boolean;
  /** Coalesce with the other wake-ups of this handle (the member's ctx.wakeUp) instead of one NOTIFY for this call. */
  wakeUp?: WorkerWakeUp;
}

/**
 * Wake queue workers for what the caller just wrote, the way it says: in its transaction; or
 * coalesced through its WorkerWakeUp; otherwise with one NOTIFY now, awaited (the occasional
 * admin retry, the CLI; run on an open transaction it is in that transaction too, so it is
 * delivered at the COMMIT). A lost wake-up outside a transaction only costs latency.
 */
export async function wakeWorkers(db: Executor, payload: string, o: WakeOptions = {}): Promise<void> {
  if (o.inTransaction) {
    await notify(db, payload);
    return;
  }
  if (o.wakeUp) {
    o.wakeUp.wake(payload);
    return;
  }
  await notify(db, payload).catch(() => {});
}
