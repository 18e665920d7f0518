#!/usr/bin/env node
// The bin runs the TypeScript sources directly: Bun understands them natively,
// Node gets tsx's loader registered first. No build step between install and use.
const isBun = typeof globalThis.Bun !== "undefined";
if (!isBun) {
  const { register } = await import("tsx/esm/api");
  register();
}
const { main } = await import("../src/cli.ts");
await main(process.argv);
