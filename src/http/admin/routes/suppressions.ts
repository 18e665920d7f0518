import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { suppressionsFromCsv, suppressionsToCsv } from "../../../suppression/csv.ts";
import { addSuppressions, allSuppressions, getSuppression, listSuppressions, removeSuppression, type Suppression } from "../../../suppression/store.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { requireJson, valid } from "../../shared/validate.ts";
import { newSuppressionBody, suppressionAddressParam, suppressionListQuery } from "../../shared/suppressions-schemas.ts";

/** A CSV import may be far larger than the API's other bodies (64 KiB): a list of many addresses. */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024;

export function suppressionJson(s: Suppression) {
  return {
    address: s.address,
    reason: s.reason,
    source: s.source,
    bounceClass: s.bounceClass,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt?.toISOString() ?? null,
    createdBy: s.createdBy,
  };
}

/** The list: paging and search, add, remove, export. */
export function suppressionRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/", valid("query", suppressionListQuery), async (c) => {
      const q = c.req.valid("query");
      const limit = q.limit ?? 100;
      const offset = q.offset ?? 0;
      const page = await listSuppressions(d.db, { search: q.search, limit, offset, activeAt: q.active === "true" ? d.clock.now() : undefined });
      return c.json({ total: page.total, limit, offset, items: page.items.map(suppressionJson) });
    })
    .get("/export", async (c) => {
      const csv = suppressionsToCsv(await allSuppressions(d.db));
      return c.body(csv, 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="suppressions.csv"' });
    })
    .post("/", requireJson, valid("json", newSuppressionBody), async (c) => {
      const b = c.req.valid("json");
      const now = d.clock.now();
      const expiresAt = b.expiresAt ? new Date(b.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= now.getTime()) throw new ApiError(400, "invalid expiresAt: it is already past", [{ path: "expiresAt", message: "must be in the future" }]);
      await addSuppressions(d.db, { entries: [{ address: b.address, reason: b.reason, expiresAt }], source: "manual", createdBy: "api", now });
      const added = await getSuppression(d.db, b.address);
      if (!added) throw new ApiError(500, "suppression was not stored");
      return c.json(suppressionJson(added), 201);
    })
    .get("/:address", valid("param", suppressionAddressParam), async (c) => {
      const s = await getSuppression(d.db, c.req.valid("param").address);
      if (!s) throw new ApiError(404, `${c.req.valid("param").address} is not on the suppression list`);
      return c.json(suppressionJson(s));
    })
    .delete("/:address", valid("param", suppressionAddressParam), async (c) => {
      const address = c.req.valid("param").address;
      if (!(await removeSuppression(d.db, address))) throw new ApiError(404, `${address} is not on the suppression list`);
      return c.json({ removed: address.trim().toLowerCase() });
    });
}

/**
 * POST /suppressions/import: a CSV file (text/csv), every line checked; one bad line and
 * nothing is written (400 listing each bad line). Mounted before the API's 64 KiB body limit.
 */
export function suppressionImportRoute(d: AdminDeps): Hono {
  return new Hono().post(
    "/",
    bodyLimit({ maxSize: MAX_IMPORT_BYTES, onError: () => { throw new ApiError(413, `CSV larger than ${MAX_IMPORT_BYTES} bytes`); } }),
    async (c) => {
      const type = c.req.header("content-type") ?? "";
      if (!/^text\/(csv|plain)\b/i.test(type)) throw new ApiError(415, "expected a CSV body (content-type: text/csv)");
      const parsed = suppressionsFromCsv(await c.req.text());
      if (!parsed.ok) {
        const issues = parsed.problems.map((p) => ({ path: `line ${p.line}`, message: p.problem }));
        throw new ApiError(400, `${issues.length} bad line(s) in the CSV; nothing was imported`, issues);
      }
      const imported = await addSuppressions(d.db, { entries: parsed.entries, source: "manual", createdBy: "api:import", now: d.clock.now() });
      return c.json({ imported });
    },
  );
}
