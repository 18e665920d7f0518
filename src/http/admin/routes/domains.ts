import { Hono } from "hono";
import { addDomain, listDomains, removeDomain } from "../../../accounts/store.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { newDomainBody } from "../../shared/schemas.ts";
import { requireJson, valid } from "../../shared/validate.ts";

export function domainRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", async (c) => c.json({ items: await listDomains(d.db) }))
    .post("/", requireJson, valid("json", newDomainBody), async (c) => {
      const name = await addDomain(d.db, c.req.valid("json").name);
      return c.json({ name }, 201);
    })
    .delete("/:name", async (c) => {
      await removeDomain(d.db, c.req.param("name"));
      return c.json({ removed: c.req.param("name").toLowerCase() });
    });
}
