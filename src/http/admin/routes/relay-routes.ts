import { Hono } from "hono";
import type { Db } from "../../../db/db.ts";
import { formatHostList, listRoutes, removeRoute, RouteError, setRoute, type Route } from "../../../relay/routes-store.ts";

function view(r: Route) {
  // The password never leaves the database through the API.
  return { domain: r.domain, hosts: formatHostList(r.hosts), tls: r.tls, requireTls: r.requireTls, authUser: r.authUser, createdAt: r.createdAt.toISOString() };
}

function text(value: unknown, field: string, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw new RouteError(`"${field}" is required`, 400);
    return null;
  }
  if (typeof value !== "string") throw new RouteError(`"${field}" must be a string`, 400);
  return value;
}

/**
 * /api/v1/routes: GET list, PUT /:domain {hosts, tls?, requireTls?, authUser?, authPass?} (add or
 * replace), DELETE /:domain. Mount behind the admin API's bearer auth:
 * `api.route("/routes", routesApi(db))`.
 */
export function routesApi(db: Db): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ items: (await listRoutes(db)).map(view) }));
  app.put("/:domain", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new RouteError("the body must be a JSON object", 400);
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new RouteError("the body must be a JSON object", 400);
    const b = body as Record<string, unknown>;
    const requireTls = b.requireTls ?? false;
    if (typeof requireTls !== "boolean") throw new RouteError('"requireTls" must be true or false', 400);
    const route = await setRoute(db, {
      domain: c.req.param("domain"),
      hosts: text(b.hosts, "hosts", true) ?? "",
      tls: text(b.tls, "tls", false) ?? undefined,
      requireTls,
      authUser: text(b.authUser, "authUser", false),
      authPass: text(b.authPass, "authPass", false),
    });
    return c.json(view(route), 200);
  });
  app.delete("/:domain", async (c) => {
    await removeRoute(db, c.req.param("domain"));
    return c.json({ removed: c.req.param("domain").trim().toLowerCase() });
  });
  return app;
}
