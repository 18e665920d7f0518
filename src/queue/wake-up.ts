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
