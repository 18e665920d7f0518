import { Hono } from "hono";
import type { AppContext } from "../app-context.ts";
import { renderMetrics } from "./metrics.ts";

/** The member's HTTP surface. Route groups from other modules mount here. */
export function createHttpApp(ctx: AppContext): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    try {
      await ctx.ping();
      return c.json({ status: "ok", member: ctx.config.memberName, roles: ctx.config.roles });
    } catch {
      return c.json({ status: "database unreachable", member: ctx.config.memberName }, 503);
    }
  });
  app.get("/metrics", async (c) => {
    const text = await renderMetrics(ctx);
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  for (const mount of ctx.httpMounts) mount(app);
  return app;
}
