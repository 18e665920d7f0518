import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requireBearer } from "./auth.ts";
import type { AdminDeps } from "./deps.ts";
import { ApiError, errorHandler } from "./errors.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { aliasRoutes } from "./routes/aliases.ts";
import { domainRoutes } from "./routes/domains.ts";
import { memberRoutes } from "./routes/members.ts";
import { messageRoutes } from "./routes/messages.ts";
import { queueRoutes } from "./routes/queue.ts";
import { settingRoutes } from "./routes/settings.ts";
import { ruleRoutes } from "../rules/routes.ts";
import { routesApi } from "../routes-api.ts";

export const ADMIN_API_PREFIX = "/api/v1";
export const MAX_BODY_BYTES = 64 * 1024;

/** The admin API, every route behind the bearer token. Mount it under ADMIN_API_PREFIX. */
export function createAdminApi(d: AdminDeps): Hono {
  const api = new Hono();
  api.onError(errorHandler(d.logger));
  api.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  api.use("*", requireBearer(d.token));
  // Admin payloads are small; anything bigger is a mistake or an attack.
  api.use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`); } }));
  api.route("/domains", domainRoutes(d));
  api.route("/accounts", accountRoutes(d));
  api.route("/aliases", aliasRoutes(d));
  api.route("/messages", messageRoutes(d));
  api.route("/queue", queueRoutes(d));
  api.route("/members", memberRoutes(d));
  api.route("/settings", settingRoutes(d));
  api.route("/routes", routesApi(d.db));
  api.route("/", ruleRoutes(d));
  return api;
}

export function mountAdminApi(app: Hono, d: AdminDeps): void {
  app.route(ADMIN_API_PREFIX, createAdminApi(d));
}

export { ApiError };
