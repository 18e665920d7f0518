import { sql } from "drizzle-orm";
import { loadSettings } from "../cluster/settings.ts";
import type { Executor } from "../db/db.ts";
import { date, queryRows, ts } from "../db/rows.ts";
import { defaultLimits, listLimits, type LimitOverride, normalizeDestination } from "./limits.ts";
import { listRules, type ReplyRule, ShapingInputError } from "./rules.ts";
import { activeSuspensions, heldSlots, type SiteLimits, type SlotHolding, suspendSite, type SuspensionRow } from "./store.ts";

/** What ops see of traffic shaping: active suspensions, overrides, slots held now, the reply rules, the defaults. */
export interface DestinationsOverview {
  suspensions: SuspensionRow[];
  limits: LimitOverride[];
  slots: SlotHolding[];
  rules: ReplyRule[];
  defaults: SiteLimits;
  enabled: boolean;
}

export async function destinationsOverview(db: Executor, now: Date): Promise<DestinationsOverview> {
  const [settings, suspensions, limits, slots, rules] = await Promise.all([loadSettings(db), activeSuspensions(db, now), listLimits(db), heldSlots(db, now), listRules(db)]);
  return { suspensions, limits, slots, rules, defaults: defaultLimits(settings), enabled: settings.relay_shaping };
}

/**
 * Lift the suspension of a site, or of every site that held back a given recipient domain, and
 * bring the recipients it pushed (due exactly at its end) back now. Empty when nothing matched.
 */
export async function clearDestination(db: Executor, destination: unknown, now: Date): Promise<{ cleared: string[]; recipients: number }> {
  const d = normalizeDestination(destination);
  const rows = await queryRows(
    db,
    sql`
      WITH gone AS (
        DELETE FROM shaping_suspensions WHERE site = ${d} OR ${d} = ANY(domains) RETURNING site, until, domains
      ), back AS (
        UPDATE recipients r SET next_attempt_at = ${ts(now)}
        FROM gone
        WHERE r.state = 'queued' AND r.domain = ANY(gone.domains) AND r.next_attempt_at = gone.until AND gone.until > ${ts(now)}
        RETURNING r.id
      )
      SELECT (SELECT coalesce(array_agg(site ORDER BY site), '{}') FROM gone) AS sites, (SELECT count(*)::int FROM back) AS back`,
  );
  const sites = rows[0].sites;
  return { cleared: Array.isArray(sites) ? sites.map(String) : String(sites).replace(/^\{|\}$/g, "").split(",").filter(Boolean), recipients: Number(rows[0].back) };
}

/**
 * An operator's suspension: the site key (or a recipient domain, then its "mx:" site is not
 * known without DNS, so the key is the domain's own hop "mx:<domain>" unless given as a site) for `seconds`.
 */
export async function suspendDestination(db: Executor, p: { destination: unknown; seconds: unknown; reason?: unknown; now: Date }): Promise<SuspensionRow> {
  const d = normalizeDestination(p.destination);
  if (typeof p.seconds !== "number" || !Number.isInteger(p.seconds) || p.seconds < 1 || p.seconds > 7 * 86400) throw new ShapingInputError('"seconds" must be an integer from 1 to 604800');
  if (p.reason !== undefined && typeof p.reason !== "string") throw new ShapingInputError('"reason" must be a string');
  const isSite = /^(mx|route|forward):/.test(d);
  const site = isSite ? d : `mx:${d}`;
  const domains = isSite ? [] : [d];
  const reason = `suspended by an operator${p.reason ? `: ${p.reason}` : ""}`;
  const r = await suspendSite(db, { site, until: new Date(p.now.getTime() + p.seconds * 1000), maxConnections: null, reason, domains, now: p.now });
  const [row] = await queryRows(db, sql`SELECT created_at FROM shaping_suspensions WHERE site = ${site}`);
  return { site, until: r.until, maxConnections: null, reason, domains, createdAt: row ? date(row.created_at) : p.now };
}
