import { z } from "zod";
import { ruleSetSchema } from "../../rules/model.ts";
import { destinationLimitsBody, destinationParam, replyRuleBody, ruleIdParam, suspendBody } from "./routes/destinations-schemas.ts";
import { tlsDomainParam, tlsReportsQuery } from "./routes/tls.ts";
import { newSuppressionBody, suppressionAddressParam, suppressionListQuery } from "../shared/suppressions-schemas.ts";
import { logSearchQuery } from "../shared/log-query.ts";
import { overviewQuery } from "./routes/overview.ts";
import {
  allActionParam,
  confirmAllQuery,
  domainActionParam,
  errorBody,
  idParam,
  memberBody,
  newAccountBody,
  newAliasBody,
  newDomainBody,
  queueActionParam,
  queueListQuery,
  routeBody,
  settingBody,
} from "../shared/schemas.ts";
import { dkimKeyActiveBody, newDkimKeyBody } from "./routes/dkim.ts";

/**
 * The OpenAPI 3.1 document of /api/v1, built from the same zod schemas the routes validate
 * with: zod 4 emits JSON Schema 2020-12, which OpenAPI 3.1 takes as it is. The table below
 * lists every route; a test compares it with the routes the Hono app really has, so a route
 * added without its entry (or the reverse) fails the build.
 */

type Method = "get" | "post" | "put" | "delete";
type ObjectSchema = z.ZodObject;

export interface Operation {
  method: Method;
  /** Hono style, relative to /api/v1: "/queue/:id". */
  path: string;
  summary: string;
  tag: string;
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: z.ZodType;
  /** Status of the success answer (200 unless given). */
  ok?: 200 | 201;
  /** Media type of the success answer when it is not JSON. */
  okType?: string;
  /** Served without the bearer token. */
  public?: boolean;
}

const queueActionDomain = "retry, hold, release, bounce or delete every pending recipient of the domain";

export const OPERATIONS: readonly Operation[] = [
  { method: "get", path: "/openapi.json", summary: "This document", tag: "meta", public: true },
  { method: "get", path: "/domains", summary: "List local domains", tag: "domains" },
  { method: "post", path: "/domains", summary: "Add a local domain", tag: "domains", body: newDomainBody, ok: 201 },
  { method: "delete", path: "/domains/:name", summary: "Remove a domain with all its accounts, aliases and stored mail", tag: "domains" },
  { method: "get", path: "/domains/:domain/rules", summary: "Domain rule set (runs before the account's)", tag: "rules" },
  { method: "put", path: "/domains/:domain/rules", summary: "Replace the domain rule set", tag: "rules", body: ruleSetSchema },
  { method: "get", path: "/accounts", summary: "List accounts (optionally ?domain=)", tag: "accounts" },
  { method: "post", path: "/accounts", summary: "Add an account", tag: "accounts", body: newAccountBody, ok: 201 },
  { method: "delete", path: "/accounts/:address", summary: "Remove an account and its stored mail", tag: "accounts" },
  { method: "get", path: "/accounts/:address/messages", summary: "Stored messages of an account", tag: "accounts" },
  { method: "get", path: "/accounts/:address/rules", summary: "Account rule set", tag: "rules" },
  { method: "put", path: "/accounts/:address/rules", summary: "Replace the account rule set", tag: "rules", body: ruleSetSchema },
  { method: "get", path: "/messages/:id/raw", summary: "Raw content of a stored message (RFC 5322)", tag: "accounts", params: idParam, okType: "message/rfc822" },
  { method: "get", path: "/aliases", summary: "List aliases", tag: "aliases" },
  { method: "post", path: "/aliases", summary: "Add an alias", tag: "aliases", body: newAliasBody, ok: 201 },
  { method: "delete", path: "/aliases/:address", summary: "Remove an alias", tag: "aliases" },
  { method: "get", path: "/queue", summary: "Queue items (recipients), newest first", tag: "queue", query: queueListQuery },
  { method: "get", path: "/queue/summary", summary: "Queue per domain: counts and the oldest item", tag: "queue" },
  { method: "get", path: "/queue/:id", summary: "A queue message: envelope, recipients, attempts", tag: "queue", params: idParam },
  { method: "post", path: "/queue/:id/:action", summary: "Retry, hold, release or bounce a message's pending recipients", tag: "queue", params: queueActionParam },
  { method: "delete", path: "/queue/:id", summary: "Delete a message from the queue (no bounce)", tag: "queue", params: idParam },
  { method: "post", path: "/queue/domain/:domain/:action", summary: queueActionDomain, tag: "queue", params: domainActionParam },
  { method: "post", path: "/queue/flush", summary: "Make every queued recipient due now (postqueue -f); held ones stay held", tag: "queue" },
  { method: "post", path: "/queue/all/:action", summary: "Retry, hold, release, bounce or delete every pending recipient (bounce and delete need ?confirm=all)", tag: "queue", params: allActionParam, query: confirmAllQuery },
  { method: "get", path: "/queue/:id/raw", summary: "Raw content of a queue message (RFC 5322), while its body is kept", tag: "queue", params: idParam, okType: "message/rfc822" },
  { method: "get", path: "/log", summary: "Delivery log: attempts, newest first, by recipient, sender, subject, Message-ID, queue id, outcome, reply, time", tag: "queue", query: logSearchQuery },
  { method: "get", path: "/overview", summary: "Overview figures: queue depth history, outcomes per minute, top deferrals, time in queue, per member", tag: "queue", query: overviewQuery },
  { method: "get", path: "/members", summary: "Members of the cluster, alive or dead", tag: "members" },
  { method: "get", path: "/members/live", summary: "Live members", tag: "members" },
  { method: "put", path: "/members/:name", summary: "Change a member's submit mode (applied with its next heartbeat)", tag: "members", body: memberBody },
  { method: "get", path: "/settings", summary: "Cluster-wide settings and their defaults", tag: "settings" },
  { method: "get", path: "/settings/:key", summary: "One setting with its default", tag: "settings" },
  { method: "put", path: "/settings/:key", summary: "Change a setting", tag: "settings", body: settingBody },
  { method: "delete", path: "/settings/:key", summary: "Reset a setting to its default", tag: "settings" },
  { method: "get", path: "/suppressions", summary: "Suppression list: ?search= (address or reason), ?active=true, paging by ?limit=&offset=", tag: "suppressions", query: suppressionListQuery },
  { method: "post", path: "/suppressions", summary: "Suppress an address (reason, optional expiresAt)", tag: "suppressions", body: newSuppressionBody, ok: 201 },
  { method: "get", path: "/suppressions/export", summary: "The whole list as CSV (address,reason,expires_at,source,bounce_class,created_at,created_by)", tag: "suppressions", okType: "text/csv" },
  { method: "post", path: "/suppressions/import", summary: "Import a CSV (text/csv; header with address, optional reason, expires_at): all lines or none, bad lines listed in a 400", tag: "suppressions" },
  { method: "get", path: "/suppressions/:address", summary: "One suppressed address", tag: "suppressions", params: suppressionAddressParam },
  { method: "delete", path: "/suppressions/:address", summary: "Remove an address from the suppression list", tag: "suppressions", params: suppressionAddressParam },
  { method: "get", path: "/dkim", summary: "DKIM keys (optionally ?domain=) with the DNS record of each; private keys never shown", tag: "dkim" },
  { method: "post", path: "/dkim", summary: "Generate a DKIM key (rsa = RSA-2048, or ed25519) for a local domain; answers the DNS TXT record to publish", tag: "dkim", body: newDkimKeyBody, ok: 201 },
  { method: "get", path: "/dkim/:domain/:selector", summary: "One DKIM key and its DNS record", tag: "dkim" },
  { method: "put", path: "/dkim/:domain/:selector", summary: "Activate or deactivate a DKIM key (inactive keys sign nothing)", tag: "dkim", body: dkimKeyActiveBody },
  { method: "delete", path: "/dkim/:domain/:selector", summary: "Remove a DKIM key", tag: "dkim" },
  { method: "get", path: "/routes", summary: "Relay routes (passwords never shown)", tag: "routes" },
  { method: "put", path: "/routes/:domain", summary: "Add or replace the route of a domain (\"*\" = every remote domain)", tag: "routes", body: routeBody },
  { method: "delete", path: "/routes/:domain", summary: "Remove a route", tag: "routes" },
  { method: "get", path: "/tls/policies", summary: "MTA-STS policies the cluster has cached, per recipient domain (mode, mx, id, expiry, last fetch error)", tag: "tls" },
  { method: "delete", path: "/tls/policies/:domain", summary: "Drop a domain's cached MTA-STS policy: fetched again at the next delivery", tag: "tls", params: tlsDomainParam },
  { method: "get", path: "/tls/reports", summary: "TLS-RPT session counts per day and domain (?days=, default 7) and each day's report status (sent, no-rua, pending)", tag: "tls", query: tlsReportsQuery },
  { method: "get", path: "/destinations", summary: "Traffic shaping: suspended or slowed destination sites, per-destination limits, connection slots held, reply rules, defaults", tag: "destinations" },
  { method: "put", path: "/destinations/:destination/limits", summary: "Set a destination's cluster-wide limits (overrides the relay_destination_* settings)", tag: "destinations", params: destinationParam, body: destinationLimitsBody },
  { method: "delete", path: "/destinations/:destination/limits", summary: "Remove a destination's limits (back to the settings)", tag: "destinations", params: destinationParam },
  { method: "post", path: "/destinations/:destination/suspend", summary: "Suspend a destination for every member (its queued recipients wait)", tag: "destinations", params: destinationParam, body: suspendBody },
  { method: "delete", path: "/destinations/:destination/suspension", summary: "Lift a suspension (site key, or every site that held back a domain); its recipients are due at once", tag: "destinations", params: destinationParam },
  { method: "get", path: "/destinations/rules", summary: "Reply rules: a temporary reply matching a pattern suspends or slows its site", tag: "destinations" },
  { method: "post", path: "/destinations/rules", summary: "Add a reply rule", tag: "destinations", body: replyRuleBody, ok: 201 },
  { method: "delete", path: "/destinations/rules/:id", summary: "Remove a reply rule", tag: "destinations", params: ruleIdParam },
  { method: "get", path: "/rules/cluster", summary: "Cluster-wide submission rules", tag: "rules" },
  { method: "put", path: "/rules/cluster", summary: "Replace the cluster-wide submission rules", tag: "rules", body: ruleSetSchema },
  { method: "get", path: "/rules/members/:name", summary: "Server-wide submission rules of one member", tag: "rules" },
  { method: "put", path: "/rules/members/:name", summary: "Replace a member's server-wide submission rules", tag: "rules", body: ruleSetSchema },
];

type JsonSchema = Record<string, unknown>;

/** Requests are described as the client sends them: the input side of transforms and coercions. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return rest;
}

function parameters(op: Operation): JsonSchema[] {
  const fromPath = [...op.path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
  const pathProps = op.params ? ((jsonSchema(op.params).properties ?? {}) as Record<string, JsonSchema>) : {};
  const out: JsonSchema[] = fromPath.map((name) => ({ name, in: "path", required: true, schema: pathProps[name] ?? { type: "string" } }));
  if (op.query) {
    const q = jsonSchema(op.query);
    const required = new Set((q.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, JsonSchema>)) {
      out.push({ name, in: "query", required: required.has(name), schema });
    }
  }
  return out;
}

function operation(op: Operation, errorRef: JsonSchema): JsonSchema {
  const ok = op.ok ?? 200;
  const errors = Object.fromEntries(
    [
      ["400", "invalid request (the issues name the fields)"],
      ["401", "missing or wrong bearer token"],
      ["404", "no such object or endpoint"],
    ]
      .filter(([status]) => !op.public || status !== "401")
      .map(([status, description]) => [status, { description, content: { "application/json": { schema: errorRef } } }]),
  );
  const okContent = op.okType ? { [op.okType]: { schema: { type: "string" } } } : { "application/json": { schema: { type: "object" } } };
  return {
    operationId: `${op.method}${op.path.replace(/[/:.]+([a-z])/gi, (_m, ch: string) => ch.toUpperCase()).replace(/[^A-Za-z0-9]/g, "")}`,
    summary: op.summary,
    tags: [op.tag],
    ...(op.public ? { security: [] } : {}),
    parameters: parameters(op),
    ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } } } : {}),
    responses: { [String(ok)]: { description: "success", content: okContent }, ...errors },
  };
}

/** "/queue/:id" → "/queue/{id}". */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z]+)/g, "{$1}");
}

/** The API is versioned by its prefix; the document by the same number. */
export const API_VERSION = "1";

export function openApiDocument(): JsonSchema {
  const errorRef = { $ref: "#/components/schemas/Error" };
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) {
    const p = (paths[openApiPath(op.path)] ??= {});
    p[op.method] = operation(op, errorRef);
  }
  return {
    openapi: "3.1.0",
    info: { title: "mailcluster admin API", version: API_VERSION, description: "Every member serves it under /api/v1 on its HTTP port. Errors are JSON: {\"error\": \"…\", \"issues\": [{\"path\", \"message\"}]}." },
    servers: [{ url: "/api/v1" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN, or the token `mailcluster admin-token` prints" } },
      schemas: { Error: jsonSchema(errorBody) },
    },
    paths,
  };
}
