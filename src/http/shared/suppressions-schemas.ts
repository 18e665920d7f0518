import { z } from "zod";
import { addressProblem, reasonProblem } from "../../suppression/store.ts";

/** Request shapes of /suppressions: the API routes, the WebAdmin's form and the OpenAPI table read them. */

const checked = (problem: (v: string) => string | null, max: number) =>
  z
    .string()
    .max(max)
    .superRefine((v, ctx) => {
      const p = problem(v);
      if (p) ctx.addIssue({ code: "custom", message: p });
    });

export const suppressionListQuery = z.object({
  search: z.string().max(320).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** "true": leave out expired entries. */
  active: z.enum(["true", "false"]).optional(),
});

export const newSuppressionBody = z.strictObject({
  address: checked(addressProblem, 400),
  reason: checked(reasonProblem, 600),
  /** ISO 8601 date-time; absent or null: never expires. */
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
});

export const suppressionAddressParam = z.object({ address: z.string().min(1).max(400) });
