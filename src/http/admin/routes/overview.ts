import { Hono } from "hono";
import { z } from "zod";
import { loadOverview } from "../../../queue/admin-figures.ts";
import { QUEUE_DEPTH_RETENTION_SECONDS } from "../../../queue/depth-history.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { valid } from "../../shared/validate.ts";

/** A window longer than the history is kept would only look like an empty past. */
export const overviewQuery = z.object({
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(QUEUE_DEPTH_RETENTION_SECONDS / 60)
    .optional()
    .describe("window in minutes, 60 unless given"),
});

/** The WebAdmin overview's figures as JSON: counts, queue depth history, outcomes per minute, deferral reasons, time in queue, per member. */
export function overviewRoutes(d: AdminDeps): Hono {
  return new Hono().get("/", valid("query", overviewQuery), async (c) => c.json(await loadOverview(d.db, d.clock.now(), c.req.valid("query").minutes ?? 60)));
}
