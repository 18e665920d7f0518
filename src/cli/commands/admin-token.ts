import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { resolveAdminToken } from "../../http/admin/token.ts";
import { loadConfig } from "../../config.ts";
import { EmbeddedDatabaseBusy } from "../../db/storage.ts";
import { withDatabase } from "../context.ts";

/**
 * Prints the bearer token of the admin API and WebAdmin: the cluster's stored one (created
 * now if no member has started yet), or ADMIN_TOKEN when this environment sets it — members
 * started with ADMIN_TOKEN use that one instead of the stored token. A member on PGlite holds
 * the database alone; it writes the token to <data>/admin-token, which is read then.
 */
export function registerAdminToken(program: Command): void {
  program
    .command("admin-token")
    .description("print the admin API / WebAdmin token (ADMIN_TOKEN, or the cluster's stored one)")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => {
      const print = (token: string, source: string) => console.log(o.json ? JSON.stringify({ token, source }) : token);
      try {
        await withDatabase({}, async (storage, config, logger) => {
          const { token, source } = await resolveAdminToken(storage.db, config.adminToken, await logger());
          print(token, source);
        });
      } catch (err) {
        if (!(err instanceof EmbeddedDatabaseBusy)) throw err;
        const file = join(loadConfig(process.env).dataDir, "admin-token");
        let token: string;
        try {
          token = readFileSync(file, "utf8").trim();
        } catch {
          throw err;
        }
        print(token, "file");
      }
    });
}
