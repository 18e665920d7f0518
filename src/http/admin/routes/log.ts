import { Hono } from "hono";
import { searchAttempts } from "../../../queue/attempt-search.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { attemptSearchOf, logSearchQuery } from "../../shared/log-query.ts";
import { valid } from "../../shared/validate.ts";

/** The delivery log (every attempt), newest first, searched like the WebAdmin's log page. */
export function logRoutes(d: AdminDeps): Hono {
  return new Hono().get("/", valid("query", logSearchQuery), async (c) => {
    const search = attemptSearchOf(c.req.valid("query"));
    const items = await searchAttempts(d.db, search);
    // A full page may have more behind it: `next` is the ?before= of the following page.
    return c.json({ items, limit: search.limit, next: items.length === search.limit ? items[items.length - 1].id : null });
  });
}
