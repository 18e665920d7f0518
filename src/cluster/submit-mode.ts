import { sql } from "drizzle-orm";
import type { SubmitMode } from "../domain/types.ts";
import type { Executor } from "../db/db.ts";
import { queryRows, str } from "../db/rows.ts";
import { UserError } from "../domain/user-error.ts";

export const SUBMIT_MODES = ["locally", "locally-for-others", "remotely"] as const satisfies readonly SubmitMode[];

/** A refused mode change; `status` is what the admin API answers with. */
export class SubmitModeError extends UserError {
  override name = "SubmitModeError";
  constructor(status: 400 | 404, message: string) {
    super(message, status);
  }
}

export function isSubmitMode(value: string): value is SubmitMode {
  return (SUBMIT_MODES as readonly string[]).includes(value);
}

export interface SubmitModeChange {
  name: string;
  previous: SubmitMode;
  submitMode: SubmitMode;
}

/**
 * Change a member's submit mode in its members row. The member re-reads the row with its next
 * heartbeat, so the change takes effect within one heartbeat interval, without a restart (a
 * restart applies --submit / SUBMIT_MODE again).
 */
export async function changeSubmitMode(db: Executor, name: string, mode: string): Promise<SubmitModeChange> {
  if (!isSubmitMode(mode)) throw new SubmitModeError(400, `submit mode must be ${SUBMIT_MODES.join(", ")} (got "${mode}")`);
  const rows = await queryRows(
    db,
    sql`UPDATE members m SET submit_mode = ${mode}
        FROM (SELECT name, submit_mode FROM members WHERE name = ${name} FOR UPDATE) old
        WHERE m.name = old.name
        RETURNING old.submit_mode AS previous`,
  );
  if (rows.length === 0) throw new SubmitModeError(404, `no member named "${name}"`);
  const previous = str(rows[0].previous);
  return { name, previous: isSubmitMode(previous) ? previous : "locally-for-others", submitMode: mode };
}
