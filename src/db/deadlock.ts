/**
 * PostgreSQL aborts one side of a deadlock (SQLSTATE 40P01). For a statement or transaction
 * that is atomic, running it again is safe: callers that can meet one (outcomes recorded while
 * an operator bounces the same messages, two members finishing the same messages in opposite
 * order) go through here.
 */
export async function retryOnDeadlock<T>(run: () => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= tries || !isDeadlock(err)) throw err;
    }
  }
}

/** Drivers wrap the server's error (drizzle puts it in `cause`): look down the chain. */
export function isDeadlock(err: unknown): boolean {
  for (let e: unknown = err; e && typeof e === "object"; e = "cause" in e ? e.cause : null) {
    if ("code" in e && e.code === "40P01") return true;
  }
  return false;
}
