#!/usr/bin/env node
// Bun and Deno run the TypeScript sources natively. Node runs a compiled copy of the CLI that
// bin/compiled.js keeps fresh in node_modules/.cache (no build step between install and use);
// `start` and any case the copy cannot serve run the sources through tsx's loader.
// Under Deno, `process` is Deno's Node-compatible global; argv has the same shape as Node's.
const runsTypeScript = typeof globalThis.Bun !== "undefined" || typeof globalThis.Deno !== "undefined";
let entry = new URL("../src/cli.ts", import.meta.url).href;
if (!runsTypeScript) {
  // A member runs for days from the sources, as it always has (stack traces point at them);
  // the compiled copy is for the short commands, whose start-up is most of their run time.
  const command = process.argv.slice(2).find((a) => !a.startsWith("-"));
  const { compiledEntry } = await import("./compiled.js");
  const compiled = command === "start" ? null : await compiledEntry();
  if (compiled) {
    entry = compiled;
  } else {
    const { register } = await import("tsx/esm/api");
    register();
  }
}
const { main } = await import(entry);
await main(process.argv);
