import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { embeddedKind, runningEmbeddedDatabaseUrl } from "../adapters.ts";

/**
 * Prints the DATABASE_URL of this setup: the one in the environment, or the one that reaches
 * the embedded PostgreSQL a running member started (for psql, a second member, a dashboard).
 */
export function registerDatabaseUrl(program: Command): void {
  program
    .command("database-url")
    .description("print the DATABASE_URL that reaches the database (the embedded PostgreSQL of a running member, or DATABASE_URL)")
    .action(async () => {
      const config = loadConfig(process.env);
      if (config.databaseUrl) {
        console.log(config.databaseUrl);
        return;
      }
      if ((await embeddedKind(config)) === "pglite") {
        throw new Error("the embedded database here is PGlite, which only the member's own process can open: no URL reaches it");
      }
      const { url, pgdata } = await runningEmbeddedDatabaseUrl(config.dataDir);
      if (!url) {
        throw new Error(`no embedded PostgreSQL runs on ${pgdata}: it runs while "mailcluster start" does (CLI commands start it briefly by themselves)`);
      }
      console.log(url);
    });
}
