import { describe, expect, it } from "vitest";
import { ClusterView } from "../../src/cluster/cluster-view.ts";
import type { MemberRow } from "../../src/cluster/members.ts";
import { decideProcessor } from "../../src/cluster/processor.ts";
import { loadConfig } from "../../src/config.ts";
import type { Role, SubmitMode } from "../../src/domain/types.ts";

const row = (name: string, submitMode: SubmitMode, alive = true, roles: Role[] = ["frontend", "backend"]): MemberRow => ({
  name,
  roles,
  smtpEndpoint: roles.includes("frontend") ? `127.0.0.1:${name.length}` : null,
  httpUrl: null,
  submitMode,
  hostname: null,
  pid: null,
  version: null,
  startedAt: new Date(0),
  heartbeatAt: new Date(0),
  alive,
});

describe("decideProcessor", () => {
  it("a member is locally unless told otherwise (--submit / SUBMIT_MODE)", () => {
    expect(loadConfig({}).submitMode).toBe("locally");
    expect(loadConfig({ SUBMIT_MODE: "remotely" }).submitMode).toBe("remotely");
    expect(loadConfig({ SUBMIT_MODE: "remotely" }, { submit: "locally-for-others" }).submitMode).toBe("locally-for-others");
  });

  it("locally and locally-for-others process their own messages", () => {
    expect(decideProcessor("me", "locally", [])).toEqual({ processor: "me", fallback: false });
    expect(decideProcessor("me", "locally-for-others", ["other"])).toEqual({ processor: "me", fallback: false });
  });
  it("remotely goes to the pool when a locally-for-others member is alive", () => {
    expect(decideProcessor("me", "remotely", ["fe1"])).toEqual({ processor: null, fallback: false });
  });
  it("remotely falls back to itself when none is alive", () => {
    expect(decideProcessor("me", "remotely", [])).toEqual({ processor: "me", fallback: true });
  });
});

describe("ClusterView", () => {
  it("re-reads its own mode from the members listing and reports the change once", () => {
    const v = new ClusterView("be1", "locally");
    expect(v.update([row("be1", "remotely"), row("fe1", "locally-for-others")])).toBe("locally");
    expect(v.submitMode).toBe("remotely");
    expect(v.update([row("be1", "remotely"), row("fe1", "locally-for-others")])).toBeNull();
  });

  it("keeps its mode when its own row is missing", () => {
    const v = new ClusterView("be1", "locally");
    expect(v.update([row("fe1", "remotely")])).toBeNull();
    expect(v.submitMode).toBe("locally");
  });

  it("pool servers are the live locally-for-others members only", () => {
    const v = new ClusterView("be1", "remotely");
    v.update([row("be1", "remotely"), row("fe1", "locally-for-others"), row("fe2", "locally-for-others", false), row("be2", "locally")]);
    expect(v.poolServers()).toEqual(["fe1"]);
    expect(v.liveFrontends().map((m) => m.name)).toEqual(["be1", "fe1", "be2"]);
  });

  it("only a locally-for-others member takes the pool while one is alive; everyone when none is", () => {
    const lfo = new ClusterView("fe1", "locally-for-others");
    const loc = new ClusterView("be1", "locally");
    const rem = new ClusterView("be2", "remotely");
    const served = [row("fe1", "locally-for-others"), row("be1", "locally"), row("be2", "remotely")];
    for (const v of [lfo, loc, rem]) v.update(served);
    expect([lfo.includePool(), loc.includePool(), rem.includePool()]).toEqual([true, false, false]);
    const unserved = [row("fe1", "locally-for-others", false), row("be1", "locally"), row("be2", "remotely")];
    for (const v of [loc, rem]) v.update(unserved);
    expect([loc.includePool(), rem.includePool()]).toEqual([true, true]);
  });

  it("adopters: locally-for-others first, then locally, then remotely", () => {
    const views = { fe1: new ClusterView("fe1", "locally-for-others"), be1: new ClusterView("be1", "locally"), be2: new ClusterView("be2", "remotely") };
    const adopters = (rows: MemberRow[]) => {
      for (const v of Object.values(views)) v.update(rows);
      return Object.entries(views)
        .filter(([, v]) => v.isAdopter())
        .map(([n]) => n);
    };
    expect(adopters([row("fe1", "locally-for-others"), row("be1", "locally"), row("be2", "remotely")])).toEqual(["fe1"]);
    expect(adopters([row("fe1", "locally-for-others", false), row("be1", "locally"), row("be2", "remotely")])).toEqual(["be1"]);
    expect(adopters([row("fe1", "locally-for-others", false), row("be1", "locally", false), row("be2", "remotely")])).toEqual(["be2"]);
  });
});
