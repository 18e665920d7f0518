import { Hono } from "hono";
import { applyQueueAction, flushQueue, listQueue, queueSummaryByDomain, showQueueMessage } from "../../../queue/admin.ts";
import { readMessageBody } from "../../../queue/body.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { allActionParam, confirmAllQuery, domainActionParam, idParam, queueActionParam, queueListQuery } from "../../shared/schemas.ts";
import { valid } from "../../shared/validate.ts";

/** The queue by message id (all its pending recipients) or by recipient domain. */
export function queueRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", valid("query", queueListQuery), async (c) => c.json({ items: await listQueue(d.db, c.req.valid("query")) }))
    .get("/summary", async (c) => c.json({ items: await queueSummaryByDomain(d.db, d.clock.now()) }))
    .post("/domain/:domain/:action", valid("param", domainActionParam), async (c) => {
      const { domain, action } = c.req.valid("param");
      const result = await applyQueueAction(d.db, action, { domain }, d.clock.now());
      d.logger.info({ action, domain, ...result }, "queue operation by administrator");
      return c.json({ action, domain, ...result });
    })
    .post("/flush", async (c) => {
      const result = await flushQueue(d.db, d.clock.now());
      d.logger.info({ action: "flush", ...result }, "queue operation by administrator");
      return c.json({ action: "flush", ...result });
    })
    .post("/all/:action", valid("param", allActionParam), valid("query", confirmAllQuery), async (c) => {
      const { action } = c.req.valid("param");
      const destructive = action === "bounce" || action === "delete";
      if (destructive && c.req.valid("query").confirm !== "all") {
        throw new ApiError(400, `${action} of every pending recipient needs ?confirm=all`);
      }
      const result = await applyQueueAction(d.db, action, { all: true }, d.clock.now());
      d.logger.info({ action, all: true, ...result }, "queue operation by administrator");
      return c.json({ action, all: true, ...result });
    })
    .get("/:id/raw", valid("param", idParam), async (c) => {
      const id = c.req.valid("param").id;
      const content = await readMessageBody(d.db, id);
      if (!content) throw new ApiError(404, `no content for queue message ${id} (unknown, or purged after delivery)`);
      return c.body(new Uint8Array(content), 200, { "content-type": "message/rfc822" });
    })
    .get("/:id", valid("param", idParam), async (c) => {
      const id = c.req.valid("param").id;
      const detail = await showQueueMessage(d.db, id);
      if (!detail) throw new ApiError(404, `no queue message ${id}`);
      return c.json(detail);
    })
    .post("/:id/:action", valid("param", queueActionParam), async (c) => {
      const { id, action } = c.req.valid("param");
      const result = await applyQueueAction(d.db, action, { messageId: id }, d.clock.now());
      d.logger.info({ action, messageId: id, ...result }, "queue operation by administrator");
      return c.json({ action, id, ...result });
    })
    .delete("/:id", valid("param", idParam), async (c) => {
      const id = c.req.valid("param").id;
      const result = await applyQueueAction(d.db, "delete", { messageId: id }, d.clock.now());
      d.logger.info({ action: "delete", messageId: id, ...result }, "queue operation by administrator");
      return c.json({ action: "delete", id, ...result });
    });
}
