import { describe, expect, it } from "vitest";
import { INGEST_BUSY_WINDOW_MS, IngestFirst } from "../../src/queue/ingest-first.ts";

/** An IngestFirst on a clock the test moves by hand. */
function setUp(maxDeferMs = 1000) {
  const t = { now: 10_000, max: maxDeferMs };
  const gate = new IngestFirst(() => t.now, () => t.max);
  return { t, gate };
}

describe("ingest first: the worker holds off while SMTP sessions queue up", () => {
  it("commits of one message at a time (one session) hold nothing back", () => {
    const { t, gate } = setUp();
    for (let i = 0; i < 10; i++) {
      gate.committed(1);
      t.now += 2;
    }
    expect(gate.holdMs()).toBe(0);
  });

  it("a commit of several messages holds the claim until ingest goes quiet", () => {
    const { t, gate } = setUp();
    gate.committed(5);
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS);
    t.now += 20;
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS - 20);
    t.now += INGEST_BUSY_WINDOW_MS - 20;
    expect(gate.holdMs()).toBe(0);
  });

  it("never holds what was committed longer than the setting, however busy ingest stays", () => {
    const { t, gate } = setUp(200);
    gate.committed(4); // the oldest: due at +200
    for (let i = 0; i < 9; i++) {
      t.now += 20;
      gate.committed(3);
      expect(gate.holdMs()).toBeGreaterThan(0);
      expect(gate.holdMs()).toBeLessThanOrEqual(200 - (i + 1) * 20);
    }
    t.now += 20; // +200
    gate.committed(3);
    expect(gate.holdMs()).toBe(0);
  });

  it("claims use up the oldest commits first: a newer one then sets the due time", () => {
    const { t, gate } = setUp(200);
    gate.committed(4);
    t.now += 150;
    gate.committed(6);
    t.now += 40; // oldest due in 10, newest in 160
    expect(gate.holdMs()).toBe(10);
    gate.claimed(4, true);
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS - 40);
    gate.claimed(3, true); // 3 of the 6 left
    t.now += 5;
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS - 45);
  });

  it("a claim that took all that was ready ends the hold (the estimate starts afresh)", () => {
    const { t, gate } = setUp();
    gate.committed(10);
    expect(gate.holdMs()).toBeGreaterThan(0);
    t.now += 1;
    gate.claiming();
    gate.claimed(3, false);
    expect(gate.holdMs()).toBe(0);
    gate.committed(2);
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS);
  });

  it("a commit that lands while a claim runs is not taken as claimed by it", () => {
    const { t, gate } = setUp();
    gate.committed(1);
    t.now += 1;
    gate.claiming();
    t.now += 1;
    gate.committed(9); // committed after the claim's snapshot, maybe
    t.now += 1;
    gate.claimed(1, false);
    expect(gate.holdMs()).toBe(INGEST_BUSY_WINDOW_MS - 1);
  });

  it("0 turns it off, read live", () => {
    const { t, gate } = setUp();
    gate.committed(10);
    expect(gate.holdMs()).toBeGreaterThan(0);
    t.max = 0;
    expect(gate.holdMs()).toBe(0);
  });
});
