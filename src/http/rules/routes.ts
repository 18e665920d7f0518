import { type Context, Hono } from "hono";
import type { Executor } from "../../db/db.ts";
import {
  getAccountRules,
  getDomainRules,
  getSubmissionRules,
  parseSubmissionScope,
  setAccountRules,
  setDomainRules,
  setSubmissionRules,
} from "../../rules/store.ts";
import { RuleSetError } from "../../rules/validate.ts";
import { ApiError } from "../shared/errors.ts";

export interface RuleRoutesDeps {
  db: Executor;
}

/** The request body, or a 400 that says it is not JSON (rather than Hono's generic message). */
async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new ApiError(400, "the body must be a JSON rule set: {\"rules\": [...]}");
  }
}

/** An invalid rule set is a 400 naming the path of the first error; the stored one is untouched. */
async function refusingInvalid<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof RuleSetError) throw new ApiError(400, `invalid rule set: ${err.message}`, [{ path: err.path, message: err.reason }]);
    throw err;
  }
}

/**
 * Rule sets over the admin API (mounted under /api/v1, behind its bearer token):
 *   GET|PUT /accounts/:address/rules      account-level rules
 *   GET|PUT /domains/:domain/rules        domain rules (run before the account's)
 *   GET|PUT /rules/cluster                cluster-wide submission rules
 *   GET|PUT /rules/members/:name          server-wide submission rules of one member
 * PUT replaces the whole set; {"rules": []} clears it.
 */
export function ruleRoutes(d: RuleRoutesDeps): Hono {
  return new Hono()
    .get("/accounts/:address/rules", async (c) => c.json(await getAccountRules(d.db, c.req.param("address"))))
    .put("/accounts/:address/rules", async (c) => {
      const body = await jsonBody(c);
      return c.json(await refusingInvalid(() => setAccountRules(d.db, c.req.param("address"), body)));
    })
    .get("/domains/:domain/rules", async (c) => c.json(await getDomainRules(d.db, c.req.param("domain"))))
    .put("/domains/:domain/rules", async (c) => {
      const body = await jsonBody(c);
      return c.json(await refusingInvalid(() => setDomainRules(d.db, c.req.param("domain"), body)));
    })
    .get("/rules/cluster", async (c) => c.json(await getSubmissionRules(d.db, "cluster")))
    .put("/rules/cluster", async (c) => {
      const body = await jsonBody(c);
      return c.json(await refusingInvalid(() => setSubmissionRules(d.db, "cluster", body)));
    })
    .get("/rules/members/:name", async (c) => {
      const scope = await refusingInvalid(async () => parseSubmissionScope(`member:${c.req.param("name")}`));
      return c.json(await getSubmissionRules(d.db, scope));
    })
    .put("/rules/members/:name", async (c) => {
      const body = await jsonBody(c);
      const scope = await refusingInvalid(async () => parseSubmissionScope(`member:${c.req.param("name")}`));
      return c.json(await refusingInvalid(() => setSubmissionRules(d.db, scope, body)));
    });
}
