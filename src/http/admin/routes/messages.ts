import { Hono } from "hono";
import { readStoredMessage } from "../../../accounts/stored-messages.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { idParam } from "../../shared/schemas.ts";
import { valid } from "../../shared/validate.ts";

/** Stored mail (mailbox_messages), by the id the account's message list shows. */
export function messageRoutes(d: AdminDeps): Hono {
  return new Hono().get("/:id/raw", valid("param", idParam), async (c) => {
    const id = c.req.valid("param").id;
    const found = await readStoredMessage(d.db, id);
    if (!found) throw new ApiError(404, `no stored message ${id}`);
    // A fresh ArrayBuffer-backed copy: the Response body type wants exactly that.
    return c.body(new Uint8Array(found.content), 200, { "content-type": "message/rfc822", "x-mailcluster-account": found.account });
  });
}
