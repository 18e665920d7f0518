import { zValidator } from "@hono/zod-validator";
import type { MiddlewareHandler, ValidationTargets } from "hono";
import type { ZodType } from "zod";
import { ApiError, type FieldIssue } from "./errors.ts";

interface IssueLike {
  path: readonly PropertyKey[];
  message: string;
}

type Result = { success: true } | { success: false; error: { issues: readonly IssueLike[] } };

export function formatIssues(issues: readonly IssueLike[]): FieldIssue[] {
  return issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

function rejectInvalid(result: Result): void {
  if (!result.success) {
    const issues = formatIssues(result.error.issues);
    const first = issues[0];
    throw new ApiError(400, first ? `invalid ${first.path || "request"}: ${first.message}` : "invalid request", issues);
  }
}

/** Bodies are JSON: anything else would otherwise validate as an empty object and mislead. */
export const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) throw new ApiError(415, "expected a JSON body (content-type: application/json)");
  await next();
};

/** zod validation of one part of the request; a failure is a 400 naming the offending fields. */
export function valid<T extends ZodType, K extends keyof ValidationTargets>(target: K, schema: T) {
  return zValidator(target, schema, rejectInvalid);
}
