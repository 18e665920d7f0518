import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../src/app-context.ts";
import { ClusterView } from "../../src/cluster/cluster-view.ts";
import { addAccount, addDomain } from "../../src/accounts/store.ts";
import { acquireAccountLease } from "../../src/cluster/account-leases.ts";
import { liveMembers, registerMember } from "../../src/cluster/members.ts";
import type { ClaimedRecipient } from "../../src/domain/delivery.ts";
import type { Expansion } from "../../src/delivery/local-expand.ts";
import { resolveOwners } from "../../src/delivery/local-owner.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { testAppContext } from "../helpers/app-context.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";

const recipient = (id: number, address: string): ClaimedRecipient => ({
  id,
  messageId: id,
  address,
  domain: address.slice(address.indexOf("@") + 1),
  attempts: 0,
  queuedAt: new Date(0),
  lockedUntil: new Date(0),
  dsnOrcpt: null,
  dsnNotify: null,
  sender: "a@sender.test",
  dsnEnvid: null,
  dsnRet: null,
  sizeBytes: 100,
  kind: "normal",
  submittedBy: "fe1",
  processor: "fe1",
  ruleInvocations: 0,
  authenticated: false,
});

const dynamicAccount = (id: number, address: string): Expansion => ({ recipient: recipient(id, address), accounts: [{ address, homeMember: null }], remote: [], alias: null, outcome: null });

describe("who stores an account's mail, when the cluster view is behind (real PostgreSQL)", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 8));
  let ctx: AppContext;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    // A frontend whose view was taken before any backend had started: it lists nobody.
    ctx = { ...testAppContext(tdb.storage, { clock }), cluster: new ClusterView("fe1", "locally") };
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it("with no live backend anywhere, the account's recipients get 451 4.4.1 and no backend", async () => {
    const plan = await resolveOwners(ctx, [dynamicAccount(1, "u1@local.test")]);
    expect(plan.groups.size).toBe(0);
    expect(plan.answers).toEqual([{ id: 1, account: "u1@local.test", status: "temporary", code: 451, enhanced: "4.4.1", text: "no live backend to open the account" }]);
  });

  it("a backend that started since the view's heartbeat is found in the members table and used at once", async () => {
    await registerMember(tdb.storage.db, { name: "be1", roles: ["backend"], smtpEndpoint: null, httpUrl: "http://127.0.0.1:9/", submitMode: "locally", hostname: null, pid: null, version: null }, clock.now());
    const plan = await resolveOwners(ctx, [dynamicAccount(2, "u2@local.test"), dynamicAccount(3, "u3@local.test")]);
    expect(plan.answers).toEqual([]);
    expect(plan.backends).toEqual(new Map([["be1", "http://127.0.0.1:9/"]]));
    expect(plan.groups.get("be1")?.map((r) => r.account)).toEqual(["u2@local.test", "u3@local.test"]);
  });

  it("an account open on a backend that joined after the view's heartbeat goes to that backend, not a 451", async () => {
    // The view now lists be1 only (its last heartbeat); be2 joins and opens u4 before the next.
    ctx.cluster?.update(await liveMembers(tdb.storage.db, clock.now(), 30));
    expect(ctx.cluster?.live().map((m) => m.name)).toEqual(["be1"]);
    await registerMember(tdb.storage.db, { name: "be2", roles: ["backend"], smtpEndpoint: null, httpUrl: "http://127.0.0.1:10/", submitMode: "locally", hostname: null, pid: null, version: null }, clock.now());
    await addDomain(tdb.storage.db, "local.test");
    await addAccount(tdb.storage.db, { address: "u4@local.test" });
    const lease = await acquireAccountLease(tdb.storage.db, { account: "u4@local.test", member: "be2", now: clock.now(), leaseMs: 60_000 });
    expect(lease.kind).not.toBe("taken");
    const plan = await resolveOwners(ctx, [dynamicAccount(4, "u4@local.test")]);
    expect(plan.answers).toEqual([]);
    expect(plan.groups.get("be2")?.map((r) => r.account)).toEqual(["u4@local.test"]);
    expect(plan.backends.get("be2")).toBe("http://127.0.0.1:10/");
  });
});
