import type { AppContext } from "../app-context.ts";
import type { SubmitMode } from "../domain/types.ts";

export interface ProcessorChoice {
  /** The messages.processor value: a member name, or null for the shared pool. */
  processor: string | null;
  /** A `remotely` member found no live locally-for-others member and keeps the message. */
  fallback: boolean;
}

/**
 * Which member processes a message this member submits:
 * - locally / locally-for-others → this member;
 * - remotely → the shared pool, which every live locally-for-others member claims from (so load
 *   spreads by whoever is free, and a pool server dying strands nothing: the others keep
 *   claiming); with no live locally-for-others member, this member itself (fallback), so that
 *   no message waits for a server that does not exist.
 */
export function decideProcessor(self: string, mode: SubmitMode, poolServers: readonly string[]): ProcessorChoice {
  if (mode !== "remotely") return { processor: self, fallback: false };
  if (poolServers.length > 0) return { processor: null, fallback: false };
  return { processor: self, fallback: true };
}

/**
 * The processor for a message submitted now, from the cluster view of the last heartbeat
 * (without a view — a bare context in a test — the configured mode and no known pool server).
 */
export async function chooseProcessor(ctx: AppContext): Promise<string | null> {
  const self = ctx.config.memberName;
  const mode = ctx.cluster?.submitMode ?? ctx.config.submitMode;
  const choice = decideProcessor(self, mode, ctx.cluster?.poolServers() ?? []);
  if (choice.fallback) {
    ctx.metrics.inc("mailcluster_submit_fallback_total", "Messages a remotely member kept because no locally-for-others member was alive");
    ctx.logger.info({ member: self, submitMode: mode }, "no live locally-for-others member: processing own message (fallback)");
  }
  return choice.processor;
}
