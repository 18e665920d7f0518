import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppContext } from "../../../src/app-context.ts";
import { DEFAULT_SETTINGS } from "../../../src/cluster/settings.ts";
import { loadConfig } from "../../../src/config.ts";
import { adminComponent } from "../../../src/http/admin/component.ts";
import { resolveAdminToken } from "../../../src/http/admin/token.ts";
import { createHttpApp } from "../../../src/http/app.ts";
import { ManualClock, systemRandom } from "../../../src/util/clock.ts";
import { silentLogger } from "../../../src/util/logger.ts";
import { testAppContext } from "../../helpers/app-context.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";

let tdb: TestDatabase;

function context(adminToken: string | null): AppContext {
  return testAppContext(tdb.storage, { config: { ...loadConfig({}), adminToken }, clock: new ManualClock(), random: systemRandom, settings: () => ({ ...DEFAULT_SETTINGS }) });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.drop();
});

describe("admin component", () => {
  it("mounts the API and WebAdmin on the member's HTTP app, never without a token", async () => {
    const ctx = context(null);
    await adminComponent().prepare?.(ctx);
    const app = createHttpApp(ctx);
    const { token } = await resolveAdminToken(tdb.storage.db, null, silentLogger);
    expect((await app.request("/api/v1/domains")).status).toBe(401);
    const ok = await app.request("/api/v1/domains", { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ items: [] });
    expect((await app.request("/admin")).status).toBe(303);
    expect((await app.request("/health")).status).toBe(200);
  });

  it("uses ADMIN_TOKEN when configured", async () => {
    const ctx = context("configured-token-abcdefghijkl");
    await adminComponent().prepare?.(ctx);
    const app = createHttpApp(ctx);
    const res = await app.request("/api/v1/members", { headers: { authorization: "Bearer configured-token-abcdefghijkl" } });
    expect(res.status).toBe(200);
  });
});
