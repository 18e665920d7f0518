#!/usr/bin/env node
// The bin runs the TypeScript sources directly: Bun and Deno understand them natively,
// Node gets tsx's loader registered first. No build step between install and use.
// Under Deno, `process` is Deno's Node-compatible global; argv has the same shape as Node's.
const runsTypeScript = typeof globalThis.Bun !== "undefined" || typeof globalThis.Deno !== "undefined";
if (!runsTypeScript) {
  const { register } = await import("tsx/esm/api");
  register();
}
const { main } = await import("../src/cli.ts");
await main(process.argv);
