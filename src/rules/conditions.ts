import { headerAddresses, type MessageFacts } from "./facts.ts";
import { globToRegExp } from "./glob.ts";
import type { Condition } from "./model.ts";
import { compileRegex } from "./validate.ts";

type StringCondition = Extract<Condition, { op: "is" | "contains" | "matches" | "regex" | "exists" }>;

/** Values longer than this are matched on their first part only: bounds the cost of any regex. */
const MAX_MATCHED_LENGTH = 4096;

const testers = new WeakMap<StringCondition, (candidate: string) => boolean>();

export function conditionHolds(condition: Condition, facts: MessageFacts): boolean {
  return holdsPositively(condition, facts) !== (condition.not ?? false);
}

function holdsPositively(condition: Condition, facts: MessageFacts): boolean {
  switch (condition.field) {
    case "size":
      return condition.op === "over" ? facts.size > condition.value : facts.size < condition.value;
    case "authenticated":
      return facts.authenticated === condition.value;
    default: {
      const values = candidates(condition, facts);
      if (condition.op === "exists") return values.length > 0;
      const test = tester(condition);
      return values.some((v) => test(v.length > MAX_MATCHED_LENGTH ? v.slice(0, MAX_MATCHED_LENGTH) : v));
    }
  }
}

/**
 * The strings a field stands for. Address fields offer both the whole header value (so a
 * display name can be matched) and each address on its own (so `is` compares addresses).
 */
function candidates(condition: StringCondition, facts: MessageFacts): string[] {
  const h = facts.headers;
  switch (condition.field) {
    case "from":
      return withAddresses(facts, "from", h.all("from"));
    case "to":
      return withAddresses(facts, "to", [...h.all("to"), ...h.all("cc")]);
    case "subject":
      return h.all("subject");
    case "sender":
      return facts.sender === "" ? [] : [facts.sender];
    case "recipient":
      return facts.recipients;
    case "header":
      return h.all(condition.name);
  }
}

/** Address parsing dominates evaluation: done once per message and field, however many rules ask. */
const parsedAddresses = new WeakMap<MessageFacts, Map<string, string[]>>();

function withAddresses(facts: MessageFacts, field: "from" | "to", values: string[]): string[] {
  let perField = parsedAddresses.get(facts);
  if (!perField) {
    perField = new Map();
    parsedAddresses.set(facts, perField);
  }
  let list = perField.get(field);
  if (!list) {
    list = [...values, ...headerAddresses(values)];
    perField.set(field, list);
  }
  return list;
}

function tester(condition: StringCondition): (candidate: string) => boolean {
  const cached = testers.get(condition);
  if (cached) return cached;
  const caseSensitive = condition.case_sensitive ?? false;
  const value = condition.value ?? "";
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const needle = fold(value);
  let test: (candidate: string) => boolean;
  switch (condition.op) {
    case "is":
      test = (c) => fold(c) === needle;
      break;
    case "contains":
      test = (c) => fold(c).includes(needle);
      break;
    case "matches": {
      const re = globToRegExp(value, caseSensitive);
      test = (c) => re.test(c);
      break;
    }
    case "regex": {
      const re = compileRegex(value, caseSensitive);
      test = (c) => re.test(c);
      break;
    }
    case "exists":
      test = () => true;
      break;
  }
  testers.set(condition, test);
  return test;
}
