import type { Runtime } from "../../src/runtime.ts";

export function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
}

/** Pick the adapter for the runtime we are on; imported lazily so Node never loads Bun code and vice versa. */
export async function detectRuntime(): Promise<Runtime> {
  if (isBun()) return (await import("./bun.ts")).bunRuntime;
  return (await import("./node.ts")).nodeRuntime;
}
