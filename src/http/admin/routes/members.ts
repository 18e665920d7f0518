import { Hono } from "hono";
import { listMembers } from "../../../cluster/members.ts";
import { loadSettings } from "../../../cluster/settings.ts";
import type { AdminDeps } from "../deps.ts";

/** Members with liveness judged by the current member_timeout_seconds. */
export function memberRoutes(d: AdminDeps): Hono {
  const list = async () => {
    const s = await loadSettings(d.db);
    return listMembers(d.db, d.clock.now(), s.member_timeout_seconds);
  };
  return new Hono()
    .get("/", async (c) => c.json({ items: await list() }))
    .get("/live", async (c) => c.json({ items: (await list()).filter((m) => m.alive) }));
}
