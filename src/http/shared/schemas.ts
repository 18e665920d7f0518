import { z } from "zod";
import { validateAddress, validateDomain } from "../../accounts/store.ts";
import { SUBMIT_MODES } from "../../cluster/submit-mode.ts";
import { QUEUE_ACTIONS } from "../../queue/admin.ts";
import { coerceError } from "../../util/errors.ts";

/** Request shapes of the admin API (the WebAdmin's forms reuse some). Names, addresses and limits are checked here so a 400 can name the field. */

function checkedBy(check: (value: string) => string) {
  return z
    .string()
    .min(1)
    .max(320)
    .transform((value, ctx) => {
      try {
        return check(value);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: coerceError(err).message });
        return z.NEVER;
      }
    });
}

export const addressField = checkedBy(validateAddress);
export const domainField = checkedBy(validateDomain);

export const newDomainBody = z.strictObject({ name: domainField });

export const newAccountBody = z.strictObject({
  address: addressField,
  password: z.string().min(1).max(1024).optional(),
  quota: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  home: z.string().min(1).max(255).nullable().optional(),
});

export const newAliasBody = z.strictObject({
  address: addressField,
  targets: z.array(addressField).min(1).max(1000),
});

export const settingBody = z.strictObject({ value: z.union([z.number(), z.string(), z.boolean()]) });

export const idParam = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

export const queueListQuery = z.object({
  state: z.enum(["queued", "held", "delivered", "failed", "pending", "all"]).optional(),
  domain: z.string().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

export const queueActionParam = z.object({ id: idParam.shape.id, action: z.enum(["retry", "hold", "release", "bounce"]) });

export const domainActionParam = z.object({ domain: domainField, action: z.enum(QUEUE_ACTIONS) });

export const allActionParam = z.object({ action: z.enum(QUEUE_ACTIONS) });

/** Bounce and delete of the whole queue are refused without ?confirm=all: a typo must not empty it. */
export const confirmAllQuery = z.object({ confirm: z.literal("all").optional() });

export const memberBody = z.strictObject({ submitMode: z.enum(SUBMIT_MODES) });

/**
 * PUT /routes/:domain. admin/routes/relay-routes.ts checks the body by hand (its messages predate the zod
 * schemas and tests pin them); this is the same shape, for the OpenAPI document.
 */
export const routeBody = z.strictObject({
  hosts: z.string().describe("comma-separated relay hosts, each host[:port], tried in order"),
  tls: z.enum(["none", "may", "encrypt", "verify"]).optional().describe("none | may (default, opportunistic) | encrypt (STARTTLS required) | verify (STARTTLS and a certificate valid for the host name)"),
  requireTls: z.boolean().optional().describe('older switch: true = tls "encrypt"'),
  authUser: z.string().nullable().optional(),
  authPass: z.string().nullable().optional(),
});

/** Every error answer of the admin API. */
export const errorBody = z.object({
  error: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
