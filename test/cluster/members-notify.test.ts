import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { createBackendComponent } from "../../src/backend/component.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { Member } from "../../src/member.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { until } from "../helpers/until.ts";

describe("members learn of a join or a leave at once (NOTIFY), not at their next heartbeat", () => {
  let tdb: TestDatabase;
  const started: Member[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    // Heartbeats a minute apart: only the announcement can tell the others in time.
    await setSetting(tdb.storage.db, "heartbeat_interval_seconds", 60);
    await setSetting(tdb.storage.db, "member_timeout_seconds", 180);
  });
  afterAll(async () => {
    for (const m of started) await m.stop().catch(() => {});
    await tdb?.drop();
  });

  const start = async (name: string) => {
    const config = loadConfig({}, { name, httpPort: 0, role: "backend", submit: "locally-for-others" });
    const m = await Member.start({ config, storage: tdb.open(4), runtime: await detectRuntime(), logger: silentLogger, components: [createBackendComponent()] });
    started.push(m);
    return m;
  };
  const seen = (m: Member) => (m.ctx.cluster?.live() ?? []).map((r) => r.name).sort();

  it("a backend that starts is in the other's cluster view within moments, and gone when it stops", async () => {
    const a = await start("notify-a");
    expect(seen(a)).toEqual(["notify-a"]);
    const b = await start("notify-b");
    await until(() => seen(a).includes("notify-b"), "a sees b", 3000, 20);
    expect(seen(b)).toEqual(["notify-a", "notify-b"]);
    await b.stop();
    await until(() => !seen(a).includes("notify-b"), "a no longer sees b", 3000, 20);
  });
});
