import { z } from "zod";

/** Request shapes of /destinations (the routes validate with them; the OpenAPI table in ../openapi.ts reads them). */

const limit = (min: number, what: string) => z.number().int().min(min).max(1_000_000).nullable().optional().describe(what);

export const destinationParam = z.object({
  destination: z.string().min(1).max(500).describe('a recipient domain ("example.org") or a site key ("mx:mx1.example.org,mx2.example.org", "route:example.org")'),
});

export const destinationLimitsBody = z
  .strictObject({
    maxConnections: limit(1, "connections at once across the cluster; null = the relay_destination_concurrency setting"),
    messagesPerMinute: limit(0, "messages per minute across the cluster; 0 = no limit, null = the setting"),
    connectionsPerMinute: limit(0, "new connections per minute across the cluster; 0 = no limit, null = the setting"),
  })
  .refine((b) => b.maxConnections != null || b.messagesPerMinute != null || b.connectionsPerMinute != null, { error: "give at least one of maxConnections, messagesPerMinute, connectionsPerMinute" });

export const suspendBody = z.strictObject({
  seconds: z.number().int().min(1).max(7 * 86400).describe("how long"),
  reason: z.string().max(300).optional(),
});

export const replyRuleBody = z
  .strictObject({
    pattern: z.string().min(1).max(500).describe('case-insensitive regular expression on "<code> <enhanced status> <text>", e.g. "^421 4\\\\.7\\\\.0 .*try again later"'),
    action: z.enum(["suspend", "slow"]),
    seconds: z.number().int().min(1).max(7 * 86400),
    maxConnections: z.number().int().min(1).max(1_000_000).nullable().optional().describe('for "slow": connections allowed meanwhile'),
  })
  .refine((r) => r.action !== "slow" || (r.maxConnections ?? null) !== null, { error: 'a "slow" rule needs maxConnections', path: ["maxConnections"] });

export const ruleIdParam = z.object({ id: z.coerce.number().int().positive().max(2_147_483_647) });
