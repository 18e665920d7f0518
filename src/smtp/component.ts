import type { Component } from "../component.ts";
import { startSmtpFrontend, type SmtpFrontend, type SmtpFrontendOptions } from "./frontend.ts";

/** The frontend role's part of a member: the SMTP listeners. */
export function smtpFrontendComponent(options: SmtpFrontendOptions = {}): Component {
  let frontend: SmtpFrontend | null = null;
  return {
    name: "smtp-frontend",
    async start(ctx) {
      frontend = await startSmtpFrontend(ctx, options);
    },
    async stop() {
      await frontend?.close();
      frontend = null;
    },
  };
}
