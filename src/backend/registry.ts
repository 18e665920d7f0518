import type { AppContext } from "../app-context.ts";
import type { BackendDelivery } from "./deliver.ts";

// The backend running in this very process, per member context: local delivery calls it
// directly instead of going through HTTP to itself.
const inProcess = new WeakMap<AppContext, BackendDelivery>();

export function registerInProcessBackend(ctx: AppContext, delivery: BackendDelivery): void {
  inProcess.set(ctx, delivery);
}

export function unregisterInProcessBackend(ctx: AppContext): void {
  inProcess.delete(ctx);
}

export function inProcessBackend(ctx: AppContext): BackendDelivery | null {
  return inProcess.get(ctx) ?? null;
}
