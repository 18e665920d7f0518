/**
 * A quantifier over a group that itself contains an unbounded quantifier — (a+)+, (\w*x)*,
 * ((a+)b){2,} — is the classic shape of catastrophic backtracking: matching time grows
 * exponentially with the input. Rule regexes run on every message, so those are refused at
 * validation (the "star height" test of safe-regex, without its dependency). Alternations
 * that overlap, like (a|aa)+, are not detected; the matched length bound limits them.
 */
export function hasNestedQuantifier(pattern: string): boolean {
  // One entry per open group: does it contain an unbounded quantifier?
  const groups: boolean[] = [];
  // Set just after ")": whether the group that closed contains one (a quantifier may follow).
  let closed: boolean | null = null;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === "\\") {
      i += 2;
      closed = null;
      continue;
    }
    if (ch === "[") {
      i = skipClass(pattern, i);
      closed = null;
      continue;
    }
    if (ch === "(") {
      groups.push(false);
      i = skipGroupModifier(pattern, i + 1);
      closed = null;
      continue;
    }
    if (ch === ")") {
      const inner = groups.pop() ?? false;
      if (inner && groups.length > 0) groups[groups.length - 1] = true;
      closed = inner;
      i++;
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.unbounded && closed) return true;
      if (q.unbounded && groups.length > 0) groups[groups.length - 1] = true;
      i += q.length;
      if (pattern[i] === "?") i++; // lazy modifier
      closed = null;
      continue;
    }
    closed = null;
    i++;
  }
  return false;
}

function skipClass(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === "^") i++;
  if (p[i] === "]") i++;
  while (i < p.length && p[i] !== "]") i += p[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** After "(": past "?:", "?=", "?!", "?<=", "?<!", "?<name>". */
function skipGroupModifier(p: string, i: number): number {
  if (p[i] !== "?") return i;
  const next = p[i + 1];
  if (next === ":" || next === "=" || next === "!") return i + 2;
  if (next === "<") {
    if (p[i + 2] === "=" || p[i + 2] === "!") return i + 3;
    const close = p.indexOf(">", i);
    return close < 0 ? p.length : close + 1;
  }
  return i + 1;
}

function quantifierAt(p: string, i: number): { length: number; unbounded: boolean } | null {
  const ch = p[i];
  if (ch === "*" || ch === "+") return { length: 1, unbounded: true };
  if (ch === "?") return { length: 1, unbounded: false };
  if (ch === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (m) return { length: m[0].length, unbounded: m[2] !== undefined && m[3] === "" };
  }
  return null;
}
