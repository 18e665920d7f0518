import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requireBearer } from "../shared/auth.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError, errorHandler } from "../shared/errors.ts";
import { openApiDocument } from "./openapi.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { aliasRoutes } from "./routes/aliases.ts";
import { domainRoutes } from "./routes/domains.ts";
import { memberRoutes } from "./routes/members.ts";
import { logRoutes } from "./routes/log.ts";
import { messageRoutes } from "./routes/messages.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { queueRoutes } from "./routes/queue.ts";
import { settingRoutes } from "./routes/settings.ts";
import { suppressionImportRoute, suppressionRoutes } from "./routes/suppressions.ts";
import { ruleRoutes } from "../rules/routes.ts";
import { routesApi } from "./routes/relay-routes.ts";
import { destinationRoutes } from "./routes/destinations.ts";
import { tlsRoutes } from "./routes/tls.ts";
import { dkimRoutes } from "./routes/dkim.ts";

export const ADMIN_API_PREFIX = "/api/v1";
export const MAX_BODY_BYTES = 64 * 1024;

/** The admin API, every route behind the bearer token. Mount it under ADMIN_API_PREFIX. */
export function createAdminApi(d: AdminDeps): Hono {
  const api = new Hono();
  api.onError(errorHandler(d.logger));
  // Describes the API, reveals nothing: served without the token so tools can read it.
  const openApi = openApiDocument();
  api.get("/openapi.json", (c) => c.json(openApi));
  api.use("*", requireBearer(d.token, d.throttle));
  // Before the general body limit: a CSV import has its own, larger one.
  api.route("/suppressions/import", suppressionImportRoute(d));
  // Admin payloads are small; anything bigger is a mistake or an attack.
  api.use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`); } }));
  api.route("/domains", domainRoutes(d));
  api.route("/accounts", accountRoutes(d));
  api.route("/aliases", aliasRoutes(d));
  api.route("/messages", messageRoutes(d));
  api.route("/queue", queueRoutes(d));
  api.route("/log", logRoutes(d));
  api.route("/overview", overviewRoutes(d));
  api.route("/members", memberRoutes(d));
  api.route("/settings", settingRoutes(d));
  api.route("/suppressions", suppressionRoutes(d));
  api.route("/routes", routesApi(d.db));
  api.route("/tls", tlsRoutes(d));
  api.route("/destinations", destinationRoutes(d));
  api.route("/dkim", dkimRoutes(d));
  api.route("/", ruleRoutes(d));
  // A mounted app's notFound is never consulted (Hono asks the top-level app's), so the JSON
  // 404 is the last route here and goes through the one error handler like every error.
  api.all("*", (c) => {
    throw new ApiError(404, `no such endpoint: ${c.req.method} ${c.req.path}`);
  });
  return api;
}

export function mountAdminApi(app: Hono, d: AdminDeps): void {
  app.route(ADMIN_API_PREFIX, createAdminApi(d));
}

export { ApiError };
