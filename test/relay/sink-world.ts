import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { Storage } from "../../src/db/storage.ts";
import type { AppContext } from "../../src/app-context.ts";
import { Relay, type RelayOptions } from "../../src/relay/relay.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";

export interface SinkWorld {
  clock: ManualClock;
  /** The test file's database (available from beforeAll on). */
  readonly storage: Storage;
  /** Another pool on the same database (a second member), closed with it. */
  open(max?: number): Storage;
  /** A scripted SMTP sink, closed after each test (a function, not a method: tests take it off the world). */
  readonly sink: (o?: SmtpSinkOptions) => Promise<SmtpSink>;
  /** Closes this relay after the test. */
  track(relay: Relay): Relay;
  /**
   * A relay for a member with this context (its database, clock, logger, settings and names;
   * not a frontend), random 0 unless given, closed after the test; `o` gives its DNS, MX port
   * and whatever else the test needs.
   */
  relay(ctx: AppContext, o: Pick<RelayOptions, "resolver" | "mxPort"> & Partial<RelayOptions>): Relay;
}

/**
 * What the relay tests against SMTP sinks share: one database per file, emptied of the queue,
 * routes and members before each test (the clock back at t0), and every sink and relay a test
 * started closed after it. Call at the top of a file or describe block: it registers the hooks.
 * `truncate` names further tables a file's tests write (suppressions, MTA-STS policies, shaping).
 */
export function sinkWorld(t0: number, o: { truncate?: readonly string[] } = {}): SinkWorld {
  const tables = ["messages", "recipients", "attempts", "routes", "members", ...(o.truncate ?? [])];
  const clock = new ManualClock(t0);
  let tdb: TestDatabase | null = null;
  const sinks: SmtpSink[] = [];
  const relays: Relay[] = [];
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb?.drop();
  });
  beforeEach(async () => {
    clock.set(t0);
    await world.storage.db.execute(sql`TRUNCATE ${sql.join(tables.map((t) => sql.identifier(t)), sql`, `)} RESTART IDENTITY CASCADE`);
  });
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close();
    for (const s of sinks.splice(0)) await s.close();
  });
  const world: SinkWorld = {
    clock,
    get storage(): Storage {
      if (!tdb) throw new Error("sinkWorld: the database exists from beforeAll on");
      return tdb.storage;
    },
    open(max) {
      if (!tdb) throw new Error("sinkWorld: the database exists from beforeAll on");
      return tdb.open(max);
    },
    async sink(o = {}) {
      const s = await startSmtpSink(o);
      sinks.push(s);
      return s;
    },
    track(relay) {
      relays.push(relay);
      return relay;
    },
    relay(ctx, o) {
      const base = { db: ctx.db, random: { next: () => 0 }, clock, logger: ctx.logger, settings: () => ctx.settings(), ehloName: ctx.config.hostname, memberName: ctx.config.memberName, isFrontend: false };
      return world.track(new Relay({ ...base, ...o }));
    },
  };
  return world;
}
