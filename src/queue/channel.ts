/** NOTIFY channel that wakes queue workers when work is committed. */
export const QUEUE_CHANNEL = "mailcluster_queue";

/**
 * The payload of a wake-up: the processor whose work was committed, POOL_PAYLOAD for the shared
 * pool's (processor NULL), "" for anyone (mixed or unknown work). Old members nudge on any.
 */
export const POOL_PAYLOAD = "*";

/** The payload for work of one processor (null = the pool). */
export function payloadFor(processor: string | null): string {
  return processor ?? POOL_PAYLOAD;
}

/** Whether a worker of `member` (taking pool work or not) has anything to look for after this wake-up. */
export function wakeConcerns(payload: string, member: string, includePool: boolean): boolean {
  if (payload === "" || payload === member) return true;
  return payload === POOL_PAYLOAD && includePool;
}
