import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { AccountError } from "../../../src/accounts/store.ts";
import { SubmitModeError } from "../../../src/cluster/submit-mode.ts";
import { UserError } from "../../../src/domain/user-error.ts";
import { errorHandler } from "../../../src/http/shared/errors.ts";
import { RuleSetError } from "../../../src/rules/validate.ts";
import { ShapingInputError } from "../../../src/shaping/rules.ts";
import { SuppressionError } from "../../../src/suppression/store.ts";
import { silentLogger } from "../../../src/util/logger.ts";

/** An app whose one route throws the given error, answered by the admin API's error handler. */
function answer(err: Error): Promise<Response> {
  const app = new Hono();
  app.onError(errorHandler(silentLogger));
  app.get("/", () => {
    throw err;
  });
  return Promise.resolve(app.request("/"));
}

describe("one user-error type, one error handler", () => {
  it("every module's UserError answers with its own status and message", async () => {
    const cases: Array<[Error, number, string]> = [
      [new AccountError("no account x@y", 404), 404, "no account x@y"],
      [new AccountError("exists", 409), 409, "exists"],
      [new SubmitModeError(400, "bad mode"), 400, "bad mode"],
      [new SuppressionError("not an address"), 400, "not an address"],
      [new ShapingInputError("bad site"), 400, "bad site"],
      [new UserError("too many", 429), 429, "too many"],
    ];
    for (const [err, status, error] of cases) {
      const res = await answer(err);
      expect([res.status, await res.json()]).toEqual([status, { error }]);
    }
  });

  it("field issues travel with the error", async () => {
    const res = await answer(new RuleSetError("rules[0].actions[0].folder", "must be a non-empty string"));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "rules[0].actions[0].folder: must be a non-empty string",
      issues: [{ path: "rules[0].actions[0].folder", message: "must be a non-empty string" }],
    });
  });

  it("anything else is a 500 that leaks nothing", async () => {
    const res = await answer(new Error("connection string postgres://secret@db"));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal error" });
  });
});
