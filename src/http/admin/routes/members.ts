import { Hono } from "hono";
import { listMembers } from "../../../cluster/members.ts";
import { loadSettings } from "../../../cluster/settings.ts";
import { changeSubmitMode } from "../../../cluster/submit-mode.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { memberBody } from "../../shared/schemas.ts";
import { valid } from "../../shared/validate.ts";

/** Members with liveness judged by the current member_timeout_seconds. */
export function memberRoutes(d: AdminDeps): Hono {
  const list = async () => {
    const s = await loadSettings(d.db);
    return listMembers(d.db, d.clock.now(), s.member_timeout_seconds);
  };
  return new Hono()
    .get("/", async (c) => c.json({ items: await list() }))
    .get("/live", async (c) => c.json({ items: (await list()).filter((m) => m.alive) }))
    // The member re-reads its row with its next heartbeat: no restart.
    .put("/:name", valid("json", memberBody), async (c) => {
      // A refused change is a SubmitModeError (UserError): the API's error handler answers it.
      const change = await changeSubmitMode(d.db, c.req.param("name"), c.req.valid("json").submitMode);
      d.logger.info(change, "member submit mode changed by administrator");
      return c.json(change);
    });
}
