import { z } from "zod";
import type { Operation } from "../openapi.ts";

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

/** The destinations endpoints, for the OpenAPI document. */
export const DESTINATION_OPERATIONS: readonly Operation[] = [
  { method: "get", path: "/destinations", summary: "Traffic shaping: suspended or slowed destination sites, per-destination limits, connection slots held, reply rules, defaults", tag: "destinations" },
  { method: "put", path: "/destinations/:destination/limits", summary: "Set a destination's cluster-wide limits (overrides the relay_destination_* settings)", tag: "destinations", params: destinationParam, body: destinationLimitsBody },
  { method: "delete", path: "/destinations/:destination/limits", summary: "Remove a destination's limits (back to the settings)", tag: "destinations", params: destinationParam },
  { method: "post", path: "/destinations/:destination/suspend", summary: "Suspend a destination for every member (its queued recipients wait)", tag: "destinations", params: destinationParam, body: suspendBody },
  { method: "delete", path: "/destinations/:destination/suspension", summary: "Lift a suspension (site key, or every site that held back a domain); its recipients are due at once", tag: "destinations", params: destinationParam },
  { method: "get", path: "/destinations/rules", summary: "Reply rules: a temporary reply matching a pattern suspends or slows its site", tag: "destinations" },
  { method: "post", path: "/destinations/rules", summary: "Add a reply rule", tag: "destinations", body: replyRuleBody, ok: 201 },
  { method: "delete", path: "/destinations/rules/:id", summary: "Remove a reply rule", tag: "destinations", params: ruleIdParam },
];
