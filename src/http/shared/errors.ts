import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type FieldIssue, UserError } from "../../domain/user-error.ts";
import { coerceError } from "../../util/errors.ts";
import type { Logger } from "../../util/logger.ts";

export type { FieldIssue } from "../../domain/user-error.ts";

/** The one error type of the admin API: it carries its HTTP status and JSON body. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }

  toJSON(): { error: string; issues?: FieldIssue[] } {
    return this.issues.length > 0 ? { error: this.message, issues: this.issues } : { error: this.message };
  }
}

/** Errors of the domain modules already say what the caller did wrong (UserError): keep their status. */
export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof UserError) return new ApiError(err.status, err.message, [...err.issues]);
  // Hono's own (malformed JSON body and the like).
  if (err instanceof HTTPException) return new ApiError(err.status, err.message || "bad request");
  return null;
}

/** Known errors answer with their status; anything else is a 500, logged, with no internals leaked. */
export function errorHandler(logger: Logger) {
  return (err: unknown, c: Context) => {
    const api = toApiError(err);
    if (api) return c.json(api.toJSON(), api.status);
    logger.error({ err: coerceError(err), path: c.req.path, method: c.req.method }, "admin API request failed");
    return c.json({ error: "internal error" }, 500);
  };
}
