/** The server's SQLSTATE of a failed query, or null when the failure did not come from the server. Drivers wrap it (drizzle puts it in `cause`). */
export function sqlState(err: unknown): string | null {
  for (let e: unknown = err; e && typeof e === "object"; e = "cause" in e ? e.cause : null) {
    if ("code" in e && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return null;
}

/**
 * The server answered with an error for the statement itself, so an autocommit statement is
 * known to be rolled back. Connection exceptions (class 08), operator intervention (57, e.g.
 * a shutdown) and errors without a SQLSTATE (socket closed, timeout) leave the outcome unknown.
 */
export function isStatementRejected(err: unknown): boolean {
  const state = sqlState(err);
  return state !== null && !state.startsWith("08") && !state.startsWith("57");
}
