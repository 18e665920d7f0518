#!/usr/bin/env node
// The design's import rules (.dependency-cruiser.cjs), failing only on violations that are not
// known. dependency-cruiser's own --ignore-known softens file-level violations but not
// folder-level ones (scope "folder"), so this script does both: a file-level violation is
// known when .dependency-cruiser-known-violations.json lists it; a folder cycle is known when
// the folder arrow it reports (from → to) is one that list already names as part of a cycle.
// New code that adds an arrow closing a folder cycle, or any other new violation, fails.
//
//   node .ci/check-imports.mjs            check (npm run lint runs this)
//   node .ci/check-imports.mjs --baseline rewrite the known list from today's code (only to shrink it)
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const KNOWN = ".dependency-cruiser-known-violations.json";
const cruise = (...extra) => {
  try {
    return execFileSync("npx", ["depcruise", "src", "adapters", ...extra], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  } catch (err) {
    // depcruise exits non-zero when it finds errors; its report is still on stdout.
    if (typeof err.stdout === "string" && err.stdout.length > 0) return err.stdout;
    throw err;
  }
};

if (process.argv.includes("--baseline")) {
  writeFileSync(KNOWN, cruise("--output-type", "baseline"));
  console.log(`wrote ${KNOWN}`);
  process.exit(0);
}

const known = JSON.parse(readFileSync(KNOWN, "utf8"));
const knownFolderArrows = new Set(known.filter((v) => v.rule.name === "no-folder-cycles").map((v) => `${v.from} → ${v.to}`));
const result = JSON.parse(cruise("--ignore-known", KNOWN, "--output-type", "json"));
const fresh = result.summary.violations.filter(
  (v) => v.rule.severity === "error" && !(v.rule.name === "no-folder-cycles" && knownFolderArrows.has(`${v.from} → ${v.to}`)),
);
const ignored = result.summary.violations.length - fresh.length;
for (const v of fresh) {
  const path = v.cycle ? ` (cycle: ${[v.from, ...v.cycle.map((c) => c.name)].join(" → ")})` : "";
  console.error(`error ${v.rule.name}: ${v.from} → ${v.to}${path}`);
}
console.log(`imports: ${result.summary.totalCruised} modules, ${fresh.length} new violation(s), ${ignored} known (${KNOWN})`);
process.exit(fresh.length > 0 ? 1 : 0);
