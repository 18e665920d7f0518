import { Hono } from "hono";
import { z } from "zod";
import { normalizeRouteDomain } from "../../../relay/routes-store.ts";
import { dropStsPolicy, listStsPolicies, tlsReportDays } from "../../../tls-report/admin.ts";
import type { AdminDeps } from "../../shared/deps.ts";
import { ApiError } from "../../shared/errors.ts";
import { valid } from "../../shared/validate.ts";

export const tlsDomainParam = z.object({
  domain: z.string().transform((value, ctx) => {
    try {
      return normalizeRouteDomain(value);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "a domain name" });
      return z.NEVER;
    }
  }),
});
export const tlsReportsQuery = z.object({ days: z.coerce.number().int().min(0).max(366).optional().describe("days back (default 7)") });

/** /api/v1/tls: the cluster's MTA-STS policy cache and TLS-RPT counts (docs/tls.md). */
export function tlsRoutes(d: AdminDeps): Hono {
  return new Hono()
    .get("/policies", async (c) => {
      const items = await listStsPolicies(d.db);
      return c.json({ items: items.map((p) => ({ ...p, expiresAt: p.expiresAt?.toISOString() ?? null, checkedAt: p.checkedAt.toISOString() })) });
    })
    .delete("/policies/:domain", valid("param", tlsDomainParam), async (c) => {
      const domain = c.req.valid("param").domain;
      if (!(await dropStsPolicy(d.db, domain))) throw new ApiError(404, `no cached MTA-STS policy for ${domain}`);
      return c.json({ dropped: domain });
    })
    .get("/reports", valid("query", tlsReportsQuery), async (c) => {
      const days = c.req.valid("query").days ?? 7;
      return c.json({ days, items: await tlsReportDays(d.db, { days, now: d.clock.now() }) });
    });
}
