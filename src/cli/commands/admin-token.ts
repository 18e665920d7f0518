import type { Command } from "commander";
import { resolveAdminToken } from "../../http/admin/token.ts";
import { withDatabase } from "../context.ts";

/**
 * Prints the bearer token of the admin API and WebAdmin: the cluster's stored one (created
 * now if no member has started yet), or ADMIN_TOKEN when this environment sets it — members
 * started with ADMIN_TOKEN use that one instead of the stored token.
 */
export function registerAdminToken(program: Command): void {
  program
    .command("admin-token")
    .description("print the admin API / WebAdmin token (ADMIN_TOKEN, or the cluster's stored one)")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      await withDatabase({}, async (storage, config, logger) => {
        const { token, source } = await resolveAdminToken(storage.db, config.adminToken, logger);
        console.log(o.json ? JSON.stringify({ token, source }) : token);
      });
    });
}
