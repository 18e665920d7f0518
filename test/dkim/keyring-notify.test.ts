import { dkimVerify } from "mailauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDomain } from "../../src/accounts/store.ts";
import type { Storage } from "../../src/db/storage.ts";
import { DKIM_KEYS_CHANNEL, DkimKeyring } from "../../src/dkim/keyring.ts";
import { signGenerated } from "../../src/dkim/sign.ts";
import type { DkimSigningKey } from "../../src/dkim/store.ts";
import { generateDkimKey, setDkimKeyActive } from "../../src/dkim/store.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { testAppContext } from "../helpers/app-context.ts";
import { createPgliteDatabase } from "../helpers/pglite.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { fakeAuthDns } from "./fake-dns.ts";

/** Waits for the notification: checks every few ms, gives up after 5 s. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("no change seen within 5 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const message = () => Buffer.from(`From: news@live.example\r\nTo: friend@far.example.org\r\nSubject: hello\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\nHello there.\r\n`);

describe.each([
  ["PostgreSQL", async () => {
    const tdb: TestDatabase = await createTestDatabase();
    return { storage: tdb.storage, drop: () => tdb.drop() };
  }],
  ["PGlite", async () => {
    const storage = await createPgliteDatabase();
    return { storage, drop: () => storage.close() };
  }],
] as const)("a key change reaches a running keyring by NOTIFY (%s)", (_name, open) => {
  let storage: Storage;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ storage, drop } = await open());
    await addDomain(storage.db, "live.example");
  });
  afterAll(async () => {
    await drop();
  });

  it("a key added through the store signs at once, a deactivated one stops, with the clock standing still", async () => {
    // The clock never moves: the 30-second reload cannot be what brings the change.
    const clock = new ManualClock(Date.UTC(2026, 11, 2, 12));
    const ctx = testAppContext(storage, { clock });
    const ring = ctx.dkimKeys;
    expect(storage.capabilities.listenNotify).toBe(true);
    // As the member starts it.
    await ring.start({ listen: (ch, fn) => storage.listen(ch, fn) });
    try {
      const unsigned = message();
      expect(await signGenerated(ctx, unsigned, "live.example")).toBe(unsigned);

      const k = await generateDkimKey(storage.db, { domain: "live.example", selector: "live1", algorithm: "ed25519", now: clock.now() });
      await eventually(async () => (await ring.keysFor("live.example")).length > 0);
      const signed = Buffer.from(await signGenerated(ctx, message(), "live.example"));
      expect(signed.toString()).toMatch(/^DKIM-Signature: /);
      const verified = await dkimVerify(signed, { resolver: fakeAuthDns({ [k.dns.name]: [k.dns.value] }) });
      expect(verified.results.map((r) => `${r.signingDomain} ${r.selector} ${r.status.result}`)).toEqual(["live.example live1 pass"]);

      await setDkimKeyActive(storage.db, "live.example", "live1", false);
      await eventually(async () => (await ring.keysFor("live.example")).length === 0);
      const after = message();
      expect(await signGenerated(ctx, after, "live.example")).toBe(after);
    } finally {
      await ring.stop();
    }
  });
});

describe("the keyring's notifications", () => {
  it("one announced while a reload runs brings one more reload (the running one may have read before the COMMIT)", async () => {
    let notify: (payload: string) => void = () => {};
    const channels: string[] = [];
    let loads = 0;
    let rows: DkimSigningKey[] = [];
    let release: () => void = () => {};
    let gate: Promise<void> = Promise.resolve();
    const ring = new DkimKeyring({
      load: async () => {
        loads++;
        const seen = rows;
        await gate;
        return seen;
      },
      now: () => 0,
    });
    await ring.start({
      listen: async (channel, fn) => {
        channels.push(channel);
        notify = fn;
        return async () => {
          notify = () => {};
        };
      },
    });
    expect(channels).toEqual([DKIM_KEYS_CHANNEL]);
    // Before the first use there is nothing to reload: the first use loads.
    notify("");
    expect(loads).toBe(0);
    expect(await ring.keysFor("example.com")).toEqual([]);
    expect(loads).toBe(1);

    gate = new Promise((r) => (release = r));
    notify("");
    expect(loads).toBe(2);
    // The row commits while that reload is still out, which read the old rows; its NOTIFY follows.
    rows = [{ domain: "example.com", selector: "s1", algorithm: "ed25519-sha256", privateKey: "x", createdAt: new Date(0) }];
    notify("");
    notify("");
    expect(loads).toBe(2);
    gate = Promise.resolve();
    release();
    await eventually(async () => (await ring.keysFor("example.com")).length === 1);
    expect(loads).toBe(3);

    await ring.stop();
    notify("");
    expect(loads).toBe(3);
  });
});
