export * from "./members.ts";
export * from "./messages.ts";
export * from "./recipients.ts";
export * from "./attempts.ts";
export * from "./accounts.ts";
export * from "./routes.ts";
export * from "./settings.ts";
export * from "./mailbox.ts";
