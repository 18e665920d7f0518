/**
 * Mail-style wildcard: `*` any run of characters (slashes and dots included, unlike path
 * globs such as picomatch), `?` exactly one, everything else literal; the whole value must match.
 */
export function globToRegExp(pattern: string, caseSensitive: boolean): RegExp {
  let source = "";
  for (const ch of pattern) {
    if (ch === "*") source += "[\\s\\S]*";
    else if (ch === "?") source += "[\\s\\S]";
    else source += ch.replace(/[\\^$.|+()[\]{}/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, caseSensitive ? "u" : "iu");
}
