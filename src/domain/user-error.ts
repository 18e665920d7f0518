/** The statuses a user error answers with on the admin API. */
export type UserErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429;

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. "targets.1"; "" for the whole payload. */
  path: string;
  message: string;
}

/**
 * Something the caller got wrong (bad input, no such thing, already there), as opposed to a
 * fault of ours. It carries the HTTP status the admin API answers with, so a module throws its
 * own subclass (AccountError, RouteError...) and the one hono error handler
 * (src/http/shared/errors.ts) answers every one of them; routes catch nothing to translate.
 */
export class UserError extends Error {
  override name = "UserError";
  constructor(
    message: string,
    readonly status: UserErrorStatus = 400,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}
