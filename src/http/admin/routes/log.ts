import { Hono } from "hono";
import { searchAttempts } from "../../../queue/attempt-search.ts";
import type { AdminDeps } from "../deps.ts";
import { attemptSearchOf, logSearchQuery } from "../log-query.ts";
import { valid } from "../validate.ts";

/** The delivery log (every attempt), newest first, searched like the WebAdmin's log page. */
export function logRoutes(d: AdminDeps): Hono {
  return new Hono().get("/", valid("query", logSearchQuery), async (c) => {
    const search = attemptSearchOf(c.req.valid("query"));
    return c.json({ items: await searchAttempts(d.db, search), limit: search.limit });
  });
}
