import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerAccount } from "./cli/commands/account.ts";
import { registerAdminToken } from "./cli/commands/admin-token.ts";
import { registerAlias } from "./cli/commands/alias.ts";
import { registerDatabaseUrl } from "./cli/commands/database-url.ts";
import { registerDestinations } from "./cli/commands/destinations.ts";
import { registerDkim } from "./cli/commands/dkim.ts";
import { registerDomain } from "./cli/commands/domain.ts";
import { registerMemberMode } from "./cli/commands/member-mode.ts";
import { registerMembers } from "./cli/commands/members.ts";
import { registerMigrate } from "./cli/commands/migrate.ts";
import { registerQueue } from "./cli/commands/queue.ts";
import { registerRoute } from "./cli/commands/route.ts";
import { registerRules } from "./cli/commands/rules.ts";
import { registerSettings } from "./cli/commands/settings.ts";
import { registerStart } from "./cli/commands/start.ts";
import { registerSuppression } from "./cli/commands/suppression.ts";
import { registerTls } from "./cli/commands/tls.ts";
import { coerceError } from "./util/errors.ts";

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  return pkg && typeof pkg === "object" && "version" in pkg && typeof pkg.version === "string" ? pkg.version : "0.0.0";
}

export function buildProgram(): Command {
  const v = version();
  const program = new Command("mailcluster")
    .description("clustered mail transfer system: SMTP frontends and backends coordinated through PostgreSQL")
    .version(v);
  registerStart(program, v);
  registerMigrate(program);
  registerMembers(program);
  registerMemberMode(program);
  registerSettings(program);
  registerDomain(program);
  registerAccount(program);
  registerAlias(program);
  registerQueue(program);
  registerRoute(program);
  registerDestinations(program);
  registerSuppression(program);
  registerTls(program);
  registerDkim(program);
  registerAdminToken(program);
  registerDatabaseUrl(program);
  // After account and domain: rules hang "account rules" and "domain rules" under them.
  registerRules(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    console.error(`mailcluster: ${coerceError(err).message}`);
    process.exit(1);
  }
}
