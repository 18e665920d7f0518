import { Hono } from "hono";
import { addAccount, listAccounts, removeAccount } from "../../../accounts/store.ts";
import { listStoredMessages } from "../../../accounts/stored-messages.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { newAccountBody } from "../../shared/schemas.ts";
import { requireJson, valid } from "../../shared/validate.ts";

export function accountRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", async (c) => c.json({ items: await listAccounts(d.db, c.req.query("domain")) }))
    .post("/", requireJson, valid("json", newAccountBody), async (c) => {
      const body = c.req.valid("json");
      const address = await addAccount(d.db, {
        address: body.address,
        password: body.password ?? null,
        quotaBytes: body.quota ?? null,
        homeMember: body.home ?? null,
      });
      return c.json({ address, quota: body.quota ?? null, home: body.home ?? null, password: body.password !== undefined }, 201);
    })
    .get("/:address/messages", async (c) => c.json({ items: await listStoredMessages(d.db, c.req.param("address")) }))
    .delete("/:address", async (c) => {
      await removeAccount(d.db, c.req.param("address"));
      return c.json({ removed: c.req.param("address").toLowerCase() });
    });
}
