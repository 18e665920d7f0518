import { Hono } from "hono";
import { addAlias, listAliases, removeAlias } from "../../../accounts/store.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { newAliasBody } from "../../shared/schemas.ts";
import { requireJson, valid } from "../../shared/validate.ts";

export function aliasRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", async (c) => {
      const rows = await listAliases(d.db);
      return c.json({ items: rows.map((a) => ({ address: a.address, domain: a.domain, targets: a.targets.split(",").filter(Boolean), createdAt: a.createdAt })) });
    })
    .post("/", requireJson, valid("json", newAliasBody), async (c) => {
      const body = c.req.valid("json");
      const address = await addAlias(d.db, body.address, body.targets);
      return c.json({ address, targets: body.targets }, 201);
    })
    .delete("/:address", async (c) => {
      await removeAlias(d.db, c.req.param("address"));
      return c.json({ removed: c.req.param("address").toLowerCase() });
    });
}
