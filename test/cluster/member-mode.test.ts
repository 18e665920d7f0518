import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { registerMember } from "../../src/cluster/members.ts";
import { changeSubmitMode, SubmitModeError } from "../../src/cluster/submit-mode.ts";
import { memberMode } from "../../src/cli/commands/member-mode.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { runCli } from "../helpers/spawn.ts";
import { adminApp, call } from "../helpers/admin-app.ts";

describe("changing a member's submit mode", () => {
  let tdb: TestDatabase;
  const modeOf = async (name: string) => str((await queryRows(tdb.storage.db, sql`SELECT submit_mode FROM members WHERE name = ${name}`))[0].submit_mode);

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    await tdb.storage.db.execute(sql`TRUNCATE members`);
    await registerMember(
      tdb.storage.db,
      { name: "be1", roles: ["backend"], smtpEndpoint: null, httpUrl: null, submitMode: "locally", hostname: null, pid: null, version: null },
      new Date(),
    );
  });

  it("stores the new mode and reports the previous one", async () => {
    expect(await changeSubmitMode(tdb.storage.db, "be1", "remotely")).toEqual({ name: "be1", previous: "locally", submitMode: "remotely" });
    expect(await modeOf("be1")).toBe("remotely");
  });

  it("refuses an unknown mode (400) and an unknown member (404), changing nothing", async () => {
    const bad = await changeSubmitMode(tdb.storage.db, "be1", "sometimes").catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SubmitModeError);
    expect(bad).toMatchObject({ status: 400, message: 'submit mode must be locally, locally-for-others, remotely (got "sometimes")' });
    const missing = await changeSubmitMode(tdb.storage.db, "nobody", "remotely").catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, message: 'no member named "nobody"' });
    expect(await modeOf("be1")).toBe("locally");
  });

  it("prints a line, or JSON", async () => {
    const lines: string[] = [];
    await memberMode(tdb.storage.db, "be1", "locally-for-others", false, (s) => lines.push(s));
    await memberMode(tdb.storage.db, "be1", "remotely", true, (s) => lines.push(s));
    expect(lines[0]).toBe("member be1: submit mode locally -> locally-for-others (takes effect with its next heartbeat)");
    expect(JSON.parse(lines[1])).toEqual({ name: "be1", previous: "locally-for-others", submitMode: "remotely" });
  });

  it("PUT /api/v1/members/:name changes the mode; bad input is a precise 400/404 and changes nothing", async () => {
    const { app } = adminApp(tdb.storage.db);
    const ok = await call(app, "PUT", "/members/be1", { submitMode: "remotely" });
    expect(ok).toMatchObject({ status: 200, body: { name: "be1", previous: "locally", submitMode: "remotely" } });
    const bad = await call(app, "PUT", "/members/be1", { submitMode: "often" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("submitMode");
    const extra = await call(app, "PUT", "/members/be1", { submitMode: "locally", colour: "red" });
    expect(extra.status).toBe(400);
    const missing = await call(app, "PUT", "/members/nobody", { submitMode: "locally" });
    expect(missing).toMatchObject({ status: 404, body: { error: 'no member named "nobody"' } });
    expect((await call(app, "PUT", "/members/be1", { submitMode: "locally" }, null)).status).toBe(401);
    expect(await modeOf("be1")).toBe("remotely");
  });

  it("mailcluster member mode / member set --submit, as a process", async () => {
    const ok = await runCli(["member", "mode", "be1", "remotely", "--json"], { DATABASE_URL: tdb.url });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ previous: "locally", submitMode: "remotely" });
    const set = await runCli(["member", "set", "be1", "--submit", "locally-for-others"], { DATABASE_URL: tdb.url });
    expect(set.code).toBe(0);
    expect(await modeOf("be1")).toBe("locally-for-others");
    const bad = await runCli(["member", "mode", "nobody", "remotely"], { DATABASE_URL: tdb.url });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('mailcluster: no member named "nobody"');
  }, 60_000);
});
