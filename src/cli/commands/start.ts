import type { Command } from "commander";
import { loadConfig, type ConfigFlags } from "../../config.ts";
import type { Member } from "../../member.ts";
import { coerceError } from "../../util/errors.ts";

const REPEATED_SIGNAL_MS = 1000;

export function registerStart(program: Command, version: string): void {
  program
    .command("start")
    .description("run a cluster member (when DATABASE_URL is unset: a private PostgreSQL under ./data, or PGlite with MAILCLUSTER_EMBEDDED=pglite)")
    .option("--role <role>", "all | frontend | backend (env MAILCLUSTER_ROLE)")
    .option("--name <name>", "member name (env MEMBER_NAME; default host:smtp-port)")
    .option("--smtp-port <port>", "SMTP listener port (env SMTP_PORT; default 2525)")
    .option("--http-port <port>", "HTTP port: admin API, delivery channel, /health, /metrics (env HTTP_PORT; default 8025)")
    .option("--submit <mode>", "locally | locally-for-others | remotely (env SUBMIT_MODE)")
    .option("--host <address>", "address to listen on (env MAILCLUSTER_HOST; default 127.0.0.1)")
    .option("--advertise <address>", "address other members reach this one at (env MAILCLUSTER_ADVERTISE; default --host, or the first non-loopback IPv4 when --host is 0.0.0.0)")
    .action(async (flags: ConfigFlags) => {
      const config = loadConfig(process.env, flags);
      // The member's modules (SMTP, HTTP, delivery, logging) load only for `start`: other commands start faster.
      const [{ Member }, { componentsFor }, { detectRuntime, openStorage }, { createLogger }] = await Promise.all([
        import("../../member.ts"),
        import("../../roles.ts"),
        import("../adapters.ts"),
        import("../../util/logger.ts"),
      ]);
      const logger = createLogger(config.logLevel, { member: config.memberName });
      const storage = await openStorage(config, () => logger, "member");
      const runtime = await detectRuntime();
      let member: Member;
      try {
        member = await Member.start({ config, storage, runtime, logger, version, components: await componentsFor(config) });
      } catch (err) {
        logger.fatal({ err: coerceError(err).message }, "could not start");
        await storage.close();
        process.exit(1);
      }
      // First signal: graceful (stop accepting, finish or release work, deregister). Second: now.
      // One Ctrl-C under `npm start` arrives twice at once (from the terminal to the process
      // group, and forwarded by npm): only a signal a moment after the first means "now".
      let firstSignalAt: number | null = null;
      const onSignal = (signal: string) => {
        if (firstSignalAt !== null) {
          if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
          logger.warn({ signal }, "second signal: exiting now");
          process.exit(1);
        }
        firstSignalAt = Date.now();
        logger.info({ signal }, "shutting down");
        member
          .stop()
          .then(() => storage.close())
          .then(() => process.exit(0))
          .catch((err: unknown) => {
            logger.error({ err: coerceError(err).message }, "shutdown failed");
            process.exit(1);
          });
      };
      process.on("SIGTERM", () => onSignal("SIGTERM"));
      process.on("SIGINT", () => onSignal("SIGINT"));
    });
}
