import type { AppContext } from "../app-context.ts";

/**
 * Which member processes a message this member submits (the `processor` column):
 * locally / locally-for-others → this member; remotely → the shared pool (NULL).
 * The cluster issue refines `remotely` with its fallback when no locally-for-others member is alive.
 */
export async function chooseProcessor(ctx: AppContext): Promise<string | null> {
  return ctx.config.submitMode === "remotely" ? null : ctx.config.memberName;
}
