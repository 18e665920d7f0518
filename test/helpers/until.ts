/**
 * Wait until `check` holds, polling. For convergence of concurrent work (workers, servers),
 * not for time-based logic: that runs on ManualClock. Fails loudly with `what` on timeout.
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}
