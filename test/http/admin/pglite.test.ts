import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../../src/db/storage.ts";
import { submitMessage } from "../../../src/queue/submit.ts";
import { createPgliteDatabase } from "../../helpers/pglite.ts";
import { adminApp, call, items } from "../../helpers/admin-app.ts";

// The zero-set-up default runs on embedded PGlite: the admin SQL must work there as well.
describe("admin API on PGlite", () => {
  let storage: Storage;
  let app: ReturnType<typeof adminApp>["app"];

  beforeAll(async () => {
    storage = await createPgliteDatabase();
    ({ app } = adminApp(storage.db));
  });
  afterAll(async () => {
    await storage.close();
  });

  it("domains, accounts and every queue operation", async () => {
    expect((await call(app, "POST", "/domains", { name: "lite.test" })).status).toBe(201);
    expect((await call(app, "POST", "/accounts", { address: "u@lite.test", quota: 10 })).status).toBe(201);
    expect(items((await call(app, "GET", "/accounts/u@lite.test/messages")).body)).toEqual([]);
    const submit = (rcpts: string[]) =>
      submitMessage(storage.db, {
        envelope: { sender: "s@x.test", recipients: rcpts.map((address) => ({ address })) },
        content: new TextEncoder().encode("Subject: p\r\n\r\np\r\n"),
        submittedBy: "t",
        processor: null,
        now: new Date(Date.UTC(2026, 5, 1, 11)),
      });
    const a = await submit(["a@one.test", "b@two.test"]);
    const b = await submit(["c@two.test"]);
    expect((await call(app, "POST", `/queue/${a.messageId}/hold`)).body).toMatchObject({ recipients: 2 });
    expect((await call(app, "POST", `/queue/${a.messageId}/release`)).body).toMatchObject({ recipients: 2 });
    expect((await call(app, "POST", "/queue/domain/two.test/retry")).body).toMatchObject({ recipients: 2 });
    expect((await call(app, "POST", "/queue/domain/one.test/bounce")).body).toMatchObject({ recipients: 1 });
    expect((await call(app, "POST", "/queue/domain/two.test/delete")).body).toMatchObject({ recipients: 2, messages: 2 });
    const shown = await call(app, "GET", `/queue/${a.messageId}`);
    expect(shown.body).toMatchObject({ message: { pendingRecipients: 0 }, recipients: [{ address: "a@one.test", state: "failed", lastStatus: "5.0.0" }] });
    expect((await call(app, "GET", `/queue/${b.messageId}`)).status).toBe(404);
    expect(items((await call(app, "GET", "/queue?state=all")).body)).toHaveLength(1);
    expect(items((await call(app, "GET", "/queue/summary")).body)).toEqual([]);
    expect((await call(app, "DELETE", `/queue/${a.messageId}`)).status).toBe(200);
  });
});
