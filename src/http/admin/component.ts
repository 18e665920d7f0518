import type { Component } from "../../component.ts";
import { mountWebAdmin } from "../webadmin/app.ts";
import { mountAdminApi } from "./api.ts";
import { resolveAdminToken } from "./token.ts";

/**
 * Admin API (/api/v1) and WebAdmin (/admin) on every member's HTTP port. The token is
 * resolved before the HTTP app is built, so neither surface is ever served without one.
 */
export function adminComponent(): Component {
  return {
    name: "admin",
    async prepare(ctx) {
      const { token } = await resolveAdminToken(ctx.db, ctx.config.adminToken, ctx.logger);
      const deps = { db: ctx.db, clock: ctx.clock, logger: ctx.logger, token };
      ctx.httpMounts.push((app) => {
        mountAdminApi(app, deps);
        mountWebAdmin(app, deps);
      });
    },
  };
}
