import type { Runtime } from "../../src/domain/runtime.ts";

export function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
}

export function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/** Pick the adapter for the runtime we are on; imported lazily so no runtime loads another's code. */
export async function detectRuntime(): Promise<Runtime> {
  if (isBun()) return (await import("./bun.ts")).bunRuntime;
  if (isDeno()) return (await import("./deno/index.ts")).denoRuntime;
  return (await import("./node.ts")).nodeRuntime;
}
