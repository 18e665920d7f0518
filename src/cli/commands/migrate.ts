import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { migrate } from "../../db/migrate.ts";
import { openStorage } from "../adapters.ts";
import { cliLogger } from "../context.ts";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("apply database migrations (also done at start); safe to run from several members at once")
    .action(async () => {
      const config = loadConfig(process.env);
      const logger = await cliLogger(config.logLevel);
      const storage = await openStorage(config, () => logger);
      try {
        const result = await migrate(storage.db);
        console.log(`migrations: ${result.applied.length} applied, ${result.total} in total (${storage.name})`);
      } finally {
        await storage.close();
      }
    });
}
