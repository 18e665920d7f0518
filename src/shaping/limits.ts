import { asc, eq, sql } from "drizzle-orm";
import type { Settings } from "../cluster/settings.ts";
import type { Executor } from "../db/db.ts";
import { shapingLimits } from "../db/schema/index.ts";
import { ShapingInputError } from "./rules.ts";
import type { SiteLimits } from "./store.ts";

/** A per-destination override; a null field falls back to the relay_destination_* setting. */
export interface LimitOverride {
  destination: string;
  maxConnections: number | null;
  messagesPerMinute: number | null;
  connectionsPerMinute: number | null;
}

/** The settings' limits (0 per minute = no limit). */
export function defaultLimits(s: Settings): SiteLimits {
  return {
    maxConnections: Math.max(1, Math.floor(s.relay_destination_concurrency)),
    messagesPerMinute: s.relay_destination_messages_per_minute > 0 ? s.relay_destination_messages_per_minute : null,
    connectionsPerMinute: s.relay_destination_connections_per_minute > 0 ? s.relay_destination_connections_per_minute : null,
  };
}

/**
 * The override that applies: the first of `candidates` (site key, recipient domain, hop
 * destination) that has one, merged over the defaults.
 */
export function effectiveLimits(defaults: SiteLimits, overrides: ReadonlyMap<string, LimitOverride>, candidates: readonly string[]): SiteLimits {
  for (const c of candidates) {
    const o = overrides.get(c.toLowerCase());
    if (!o) continue;
    return {
      maxConnections: o.maxConnections ?? defaults.maxConnections,
      messagesPerMinute: o.messagesPerMinute === null ? defaults.messagesPerMinute : o.messagesPerMinute === 0 ? null : o.messagesPerMinute,
      connectionsPerMinute: o.connectionsPerMinute === null ? defaults.connectionsPerMinute : o.connectionsPerMinute === 0 ? null : o.connectionsPerMinute,
    };
  }
  return defaults;
}

const DESTINATION = /^(?:(?:mx|route|forward):)?[a-z0-9*][a-z0-9.,:_*\-[\]]*$/;

export function normalizeDestination(raw: unknown): string {
  if (typeof raw !== "string" || raw.trim() === "") throw new ShapingInputError("the destination must be a non-empty string (a domain, or a site key such as mx:mx1.example.org)");
  const d = raw.trim().toLowerCase();
  if (d.length > 500 || !DESTINATION.test(d)) throw new ShapingInputError(`"${raw}" is not a domain or site key`);
  return d;
}

function limitField(value: unknown, field: string, min: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 1_000_000) {
    throw new ShapingInputError(`"${field}" must be an integer from ${min} to 1000000, or null for the default`);
  }
  return value;
}

/** Validate an override body: maxConnections ≥ 1; per-minute limits ≥ 0 (0 = no limit). */
export function validateLimits(destination: unknown, body: unknown): LimitOverride {
  const dest = normalizeDestination(destination);
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new ShapingInputError("the body must be a JSON object");
  const b = body as Record<string, unknown>;
  const known = new Set(["maxConnections", "messagesPerMinute", "connectionsPerMinute"]);
  for (const k of Object.keys(b)) if (!known.has(k)) throw new ShapingInputError(`unknown field "${k}" (maxConnections, messagesPerMinute, connectionsPerMinute)`);
  const o = {
    destination: dest,
    maxConnections: limitField(b.maxConnections, "maxConnections", 1),
    messagesPerMinute: limitField(b.messagesPerMinute, "messagesPerMinute", 0),
    connectionsPerMinute: limitField(b.connectionsPerMinute, "connectionsPerMinute", 0),
  };
  if (o.maxConnections === null && o.messagesPerMinute === null && o.connectionsPerMinute === null) {
    throw new ShapingInputError("give at least one of maxConnections, messagesPerMinute, connectionsPerMinute");
  }
  return o;
}

export async function setLimits(db: Executor, o: LimitOverride): Promise<LimitOverride> {
  const values = { maxConnections: o.maxConnections, messagesPerMinute: o.messagesPerMinute, connectionsPerMinute: o.connectionsPerMinute };
  await db
    .insert(shapingLimits)
    .values({ destination: o.destination, ...values })
    .onConflictDoUpdate({ target: shapingLimits.destination, set: { ...values, updatedAt: sql`now()` } });
  return o;
}

export async function removeLimits(db: Executor, destination: unknown): Promise<boolean> {
  const rows = await db.delete(shapingLimits).where(eq(shapingLimits.destination, normalizeDestination(destination))).returning({ d: shapingLimits.destination });
  return rows.length > 0;
}

export async function listLimits(db: Executor): Promise<LimitOverride[]> {
  const rows = await db.select().from(shapingLimits).orderBy(asc(shapingLimits.destination));
  return rows.map((r) => ({ destination: r.destination, maxConnections: r.maxConnections, messagesPerMinute: r.messagesPerMinute, connectionsPerMinute: r.connectionsPerMinute }));
}
