import { z } from "zod";

/**
 * The rule set document (docs/rules.md): ordered rules, each a list of conditions and a list
 * of actions. Stored as JSON in domains.rules, accounts.rules and cluster_rules.rules; this
 * schema is the only definition of its shape, the types below are inferred from it.
 */

export const LIMITS = {
  rules: 200,
  conditionsPerRule: 50,
  actionsPerRule: 20,
  /** Longer patterns are refused: they are the usual vehicle of catastrophic backtracking. */
  patternLength: 256,
  valueLength: 1000,
  addressesPerAction: 20,
  textLength: 10_000,
  folderLength: 200,
} as const;

const nonEmpty = (max: number) =>
  z
    .string({ error: "must be a non-empty string" })
    .min(1, { error: "must be a non-empty string" })
    .max(max, { error: `must be at most ${max} characters` });

const noLineBreaks = (s: string) => !/[\r\n\0]/.test(s);

/** IMAP-safe hierarchy names ("Lists/dev"), the same test the mailbox store applies. */
const isFolderName = (s: string) => !/[\u0000-\u001f\u007f*%]/.test(s) && s.trim() === s && !s.split("/").some((p) => p === "");

/** RFC 5322 field name: printable US-ASCII except colon. */
const headerName = nonEmpty(76).regex(/^[!-9;-~]+$/, { error: "must be a header field name (printable ASCII, no colon or space)" });

const STRING_FIELDS = ["from", "to", "subject", "sender", "recipient"] as const;
const STRING_OPS = ["is", "contains", "matches", "regex"] as const;

const stringTest = {
  op: z.enum([...STRING_OPS, "exists"], { error: `must be one of: ${[...STRING_OPS, "exists"].join(", ")}` }),
  value: z.string({ error: "must be a string" }).max(LIMITS.valueLength, { error: `must be at most ${LIMITS.valueLength} characters` }).optional(),
  case_sensitive: z.boolean({ error: "must be true or false" }).optional(),
  not: z.boolean({ error: "must be true or false" }).optional(),
};

const stringCondition = z.strictObject({
  field: z.enum(STRING_FIELDS),
  ...stringTest,
});

const headerCondition = z.strictObject({
  field: z.literal("header"),
  name: headerName,
  ...stringTest,
});

const sizeCondition = z.strictObject({
  field: z.literal("size"),
  op: z.enum(["over", "under"], { error: "must be one of: over, under" }),
  value: z.number({ error: "must be a number of bytes" }).int({ error: "must be a whole number of bytes" }).min(0, { error: "must not be negative" }),
  not: z.boolean({ error: "must be true or false" }).optional(),
});

const authenticatedCondition = z.strictObject({
  field: z.literal("authenticated"),
  value: z.boolean({ error: "must be true or false" }),
  not: z.boolean({ error: "must be true or false" }).optional(),
});

export const conditionSchema = z.discriminatedUnion("field", [
  stringCondition,
  headerCondition,
  sizeCondition,
  authenticatedCondition,
]);

const addressList = z
  .array(nonEmpty(320), { error: "must be a list of addresses" })
  .min(1, { error: "must list at least one address" })
  .max(LIMITS.addressesPerAction, { error: `must list at most ${LIMITS.addressesPerAction} addresses` });

export const actionSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("folder"),
    folder: nonEmpty(LIMITS.folderLength).refine(isFolderName, {
      error: "must be a folder name: no control characters, * or %, no surrounding spaces, no empty /-separated parts",
    }),
  }),
  z.strictObject({ type: z.literal("discard") }),
  z.strictObject({
    type: z.literal("reject"),
    text: nonEmpty(500).refine(noLineBreaks, { error: "must not contain line breaks or NUL" }).optional(),
    code: z
      .number({ error: "must be an SMTP code" })
      .int({ error: "must be an SMTP code" })
      .min(550, { error: "must be a permanent SMTP code between 550 and 554" })
      .max(554, { error: "must be a permanent SMTP code between 550 and 554" })
      .optional(),
  }),
  z.strictObject({ type: z.literal("redirect"), to: addressList }),
  z.strictObject({ type: z.literal("forward"), to: addressList }),
  z.strictObject({
    type: z.literal("vacation"),
    text: nonEmpty(LIMITS.textLength),
    subject: nonEmpty(200).refine(noLineBreaks, { error: "must not contain line breaks or NUL" }).optional(),
    days: z
      .number({ error: "must be a number of days" })
      .int({ error: "must be a whole number of days" })
      .min(1, { error: "must be between 1 and 365" })
      .max(365, { error: "must be between 1 and 365" })
      .optional(),
  }),
  z.strictObject({ type: z.literal("mark"), flag: z.enum(["flagged", "seen"], { error: "must be one of: flagged, seen" }) }),
  z.strictObject({
    type: z.literal("add_header"),
    name: headerName,
    value: z.string({ error: "must be a string" }).max(998, { error: "must be at most 998 characters" }).refine(noLineBreaks, { error: "must not contain line breaks or NUL" }),
  }),
  z.strictObject({ type: z.literal("stop") }),
]);

export const ruleSchema = z.strictObject({
  name: z.string({ error: "must be a string" }).max(200, { error: "must be at most 200 characters" }).optional(),
  match: z.enum(["all", "any"], { error: "must be one of: all, any" }).optional(),
  conditions: z
    .array(conditionSchema, { error: "must be a list of conditions" })
    .max(LIMITS.conditionsPerRule, { error: `must have at most ${LIMITS.conditionsPerRule} conditions` })
    .optional(),
  actions: z
    .array(actionSchema, { error: "must be a list of actions" })
    .min(1, { error: "must have at least one action" })
    .max(LIMITS.actionsPerRule, { error: `must have at most ${LIMITS.actionsPerRule} actions` }),
});

export const ruleSetSchema = z.strictObject({
  rules: z.array(ruleSchema, { error: "must be a list of rules" }).max(LIMITS.rules, { error: `must have at most ${LIMITS.rules} rules` }),
});

export type RuleSet = z.infer<typeof ruleSetSchema>;
export type Rule = z.infer<typeof ruleSchema>;
export type Condition = z.infer<typeof conditionSchema>;
export type Action = z.infer<typeof actionSchema>;
export type ActionType = Action["type"];
export type StringField = (typeof STRING_FIELDS)[number] | "header";

/** Where a rule set runs decides which actions make sense there. */
export type RuleScope = "account" | "domain" | "submission";

export const ACTIONS_BY_SCOPE: Record<RuleScope, readonly ActionType[]> = {
  account: ["folder", "discard", "reject", "redirect", "forward", "vacation", "mark", "add_header", "stop"],
  domain: ["folder", "discard", "reject", "redirect", "forward", "vacation", "mark", "add_header", "stop"],
  // At submission there is no mailbox and no account to answer for: only what changes the message or its fate.
  submission: ["add_header", "reject", "redirect", "discard", "stop"],
};

export const EMPTY_RULE_SET: RuleSet = { rules: [] };
