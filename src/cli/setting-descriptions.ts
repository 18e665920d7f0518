import { readFileSync } from "node:fs";

/**
 * What each setting means, taken from the doc comment above its default in
 * src/cluster/settings.ts: the one place authors describe a setting, so the CLI's meaning
 * column can never drift from it. A key without a comment gets "".
 */
export function settingDescriptions(source = new URL("../cluster/settings.ts", import.meta.url)): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(source, "utf8");
  } catch {
    return new Map();
  }
  const start = text.indexOf("export const DEFAULT_SETTINGS = {");
  const end = text.indexOf("} as const;", start);
  if (start < 0 || end < 0) return new Map();
  const found = new Map<string, string>();
  // A doc comment, then (after whitespace only) the key it documents; or a key with none.
  const entry = /(?:\/\*\*([\s\S]*?)\*\/\s*)?^\s*([a-z][a-z0-9_]*):/gm;
  for (const m of text.slice(start, end).matchAll(entry)) {
    const comment = (m[1] ?? "")
      .split("\n")
      .map((line) => line.replace(/^\s*\*?\s?/, "").trim())
      .filter(Boolean)
      .join(" ");
    found.set(m[2], comment);
  }
  return found;
}

/** Lines of at most `width` characters, broken at spaces, for a table cell. */
export function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}
