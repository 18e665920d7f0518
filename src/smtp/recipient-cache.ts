import { resolveRecipient, type LocalRecipient } from "../accounts/lookup.ts";
import type { Executor } from "../db/db.ts";
import type { Clock } from "../domain/types.ts";

const MAX_ENTRIES = 50_000;

/**
 * RCPT lookups reused for a few seconds (smtp_recipient_cache_seconds): a busy frontend sees the
 * same recipients over and over, and each lookup is up to three queries. Unknown answers are cached
 * too, which also blunts dictionary attacks. A new account is reachable, a removed one refused,
 * within the TTL; the backend re-checks at delivery anyway.
 */
export class RecipientCache {
  private readonly entries = new Map<string, { at: number; value: LocalRecipient }>();

  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
    private readonly ttlSeconds: () => number,
  ) {}

  async resolve(address: string): Promise<LocalRecipient> {
    const ttl = this.ttlSeconds() * 1000;
    if (ttl <= 0) return resolveRecipient(this.db, address);
    const key = address.toLowerCase();
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < ttl) return hit.value;
    const value = await resolveRecipient(this.db, address);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { at: now, value });
    return value;
  }
}
