import { sql } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import type { Executor } from "../db/db.ts";
import { QUEUE_CHANNEL } from "./channel.ts";

interface State {
  inFlight: boolean;
  again: boolean;
  payload: string;
}

const states = new WeakMap<object, State>();

/**
 * Wake queue workers after a commit, coalesced: at most one NOTIFY in flight per database
 * handle, plus one more (a few ms later) if submits arrived meanwhile. A NOTIFY inside each submit transaction
 * would serialise all commits on PostgreSQL's notify-queue lock (about 300 commits/s here);
 * workers treat any notification as "look now", and polling covers a lost one.
 */
export async function wakeWorkers(db: Executor, payload: string): Promise<void> {
  // Inside a caller's transaction: notify there, so it is delivered at that COMMIT (or never).
  if (db instanceof PgTransaction) {
    await db.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${payload})`);
    return;
  }
  let state = states.get(db);
  if (!state) {
    state = { inFlight: false, again: false, payload };
    states.set(db, state);
  }
  state.payload = payload;
  if (state.inFlight) {
    state.again = true;
    return;
  }
  void send(db, state);
}

/** Under load, a follow-up NOTIFY waits this long: a few ms of latency, far fewer notifications. */
const FOLLOW_UP_DELAY_MS = 5;

async function send(db: Executor, state: State): Promise<void> {
  state.inFlight = true;
  try {
    do {
      if (state.again) await new Promise((r) => setTimeout(r, FOLLOW_UP_DELAY_MS));
      state.again = false;
      await db.execute(sql`SELECT pg_notify(${QUEUE_CHANNEL}, ${state.payload})`).catch(() => {
        // A lost wake-up only costs latency: workers poll.
      });
    } while (state.again);
  } finally {
    state.inFlight = false;
  }
}

/** The member's own queue worker, nudged in process (no NOTIFY round trip). */
export interface LocalWake {
  member: string;
  /** Wakes the local worker; false when this member runs none. */
  nudge: () => boolean;
}

/**
 * One wake-up for everything one commit wrote (a group commit: many messages). When every
 * message is this member's own to process and its worker runs here, the worker is nudged in
 * process; otherwise one coalesced NOTIFY (wakeWorkers) reaches the other members.
 */
export function wakeProcessors(db: Executor, processors: ReadonlySet<string | null>, local?: LocalWake): void {
  if (processors.size === 0) return;
  const onlyOwn = local !== undefined && processors.size === 1 && processors.has(local.member);
  if (onlyOwn && local.nudge()) return;
  const [first] = processors;
  void wakeWorkers(db, processors.size === 1 ? (first ?? "") : "");
}
