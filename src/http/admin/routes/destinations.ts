import { Hono } from "hono";
import { clearDestination, destinationsOverview, suspendDestination } from "../../../shaping/admin.ts";
import { normalizeDestination, removeLimits, setLimits, validateLimits } from "../../../shaping/limits.ts";
import { addRule, listRules, removeRule } from "../../../shaping/rules.ts";
import type { SuspensionRow } from "../../../shaping/store.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { requireJson, valid } from "../../shared/validate.ts";
import { destinationLimitsBody, destinationParam, replyRuleBody, ruleIdParam, suspendBody } from "./destinations-schemas.ts";

function suspensionView(s: SuspensionRow) {
  return { site: s.site, until: s.until.toISOString(), action: s.maxConnections === null ? "suspend" : "slow", maxConnections: s.maxConnections, reason: s.reason, domains: s.domains, since: s.createdAt.toISOString() };
}

/** /api/v1/destinations: cluster-wide traffic shaping, seen and steered by ops. */
export function destinationRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", async (c) => {
      const o = await destinationsOverview(d.db, d.clock.now());
      return c.json({ enabled: o.enabled, defaults: o.defaults, suspensions: o.suspensions.map(suspensionView), limits: o.limits, slots: o.slots, rules: o.rules });
    })
    .get("/rules", async (c) => c.json({ items: await listRules(d.db) }))
    .post("/rules", requireJson, valid("json", replyRuleBody), async (c) => {
      const rule = await addRule(d.db, c.req.valid("json"));
      d.logger.info({ rule }, "shaping reply rule added by administrator");
      return c.json(rule, 201);
    })
    .delete("/rules/:id", valid("param", ruleIdParam), async (c) => {
      const { id } = c.req.valid("param");
      if (!(await removeRule(d.db, id))) throw new ApiError(404, `no reply rule ${id}`);
      return c.json({ removed: id });
    })
    .put("/:destination/limits", valid("param", destinationParam), requireJson, valid("json", destinationLimitsBody), async (c) => {
      const o = await setLimits(d.db, validateLimits(c.req.valid("param").destination, c.req.valid("json")));
      d.logger.info({ limits: o }, "destination limits set by administrator");
      return c.json(o);
    })
    .delete("/:destination/limits", valid("param", destinationParam), async (c) => {
      const dest = normalizeDestination(c.req.valid("param").destination);
      if (!(await removeLimits(d.db, dest))) throw new ApiError(404, `no limits set for ${dest}`);
      return c.json({ removed: dest });
    })
    .post("/:destination/suspend", valid("param", destinationParam), requireJson, valid("json", suspendBody), async (c) => {
      const b = c.req.valid("json");
      const s = await suspendDestination(d.db, { destination: c.req.valid("param").destination, seconds: b.seconds, reason: b.reason, now: d.clock.now() });
      d.logger.info({ site: s.site, until: s.until.toISOString() }, "destination suspended by administrator");
      return c.json(suspensionView(s));
    })
    .delete("/:destination/suspension", valid("param", destinationParam), async (c) => {
      const r = await clearDestination(d.db, c.req.valid("param").destination, d.clock.now());
      if (r.cleared.length === 0) throw new ApiError(404, `${c.req.valid("param").destination} is not suspended`);
      d.logger.info(r, "destination suspension lifted by administrator");
      return c.json(r);
    });
}
