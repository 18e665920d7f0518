import { sql } from "drizzle-orm";
import type { Executor } from "../db/db.ts";
import { queryRows } from "../db/rows.ts";

/**
 * Replay protection shared by the whole cluster: the nonce of every authenticated channel
 * request goes into `channel_nonces` with one insert-or-nothing statement; no row back means
 * some member (this one before a restart, or another) already accepted it.
 *
 * A nonce is kept until its request's timestamp is two windows old: no member accepts the
 * timestamp after one window, the second window covers clock skew between members. Expired
 * rows are deleted by the same statement, at most once per window per member, so the table
 * stays at about one window of traffic and a request costs one statement.
 */
export class ChannelNonces {
  private nextPurgeMs = 0;

  constructor(
    private readonly db: Executor,
    private readonly me: string,
  ) {}

  /** False when the nonce was used before (a replay). */
  async accept(p: { nonce: string; sender: string; timestampMs: number; nowMs: number; windowMs: number }): Promise<boolean> {
    const purge = p.nowMs >= this.nextPurgeMs;
    if (purge) this.nextPurgeMs = p.nowMs + p.windowMs;
    const now = new Date(p.nowMs);
    const expires = new Date(p.timestampMs + 2 * p.windowMs);
    const rows = await queryRows(
      this.db,
      sql`WITH purged AS (DELETE FROM channel_nonces WHERE ${purge}::boolean AND expires_at < ${now.toISOString()}::timestamptz)
          INSERT INTO channel_nonces (nonce, sender, receiver, expires_at)
          VALUES (${p.nonce}, ${p.sender}, ${this.me}, ${expires.toISOString()}::timestamptz)
          ON CONFLICT (nonce) DO NOTHING
          RETURNING nonce`,
    );
    return rows.length === 1;
  }
}
