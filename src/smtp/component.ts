import type { Component } from "../component.ts";
import { databaseSubmissionRules } from "../rules/submission.ts";
import { startSmtpFrontend, type SmtpFrontend, type SmtpFrontendOptions } from "./frontend.ts";

export interface SmtpFrontendComponent extends Component {
  /** The running listeners (their bound ports), null before start and after stop. */
  frontend(): SmtpFrontend | null;
}

/** The frontend role's part of a member: the SMTP listeners. */
export function smtpFrontendComponent(options: SmtpFrontendOptions = {}): SmtpFrontendComponent {
  let frontend: SmtpFrontend | null = null;
  return {
    name: "smtp-frontend",
    frontend: () => frontend,
    async start(ctx) {
      // Server-wide and cluster-wide rules from the cluster_rules table (src/rules), unless a test injects its own.
      const rules = databaseSubmissionRules({
        db: ctx.db,
        member: ctx.config.memberName,
        onInvalid: (scope, err) => ctx.logger.error({ scope, err: err.message }, "stored submission rules are invalid; skipped"),
      });
      frontend = await startSmtpFrontend(ctx, { rules, ...options });
    },
    async stop() {
      await frontend?.close();
      frontend = null;
    },
  };
}
