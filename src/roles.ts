import type { Component } from "./component.ts";
import type { Config } from "./config.ts";

/** The components a member runs for its roles. Each role's module is loaded only when needed. */
export async function componentsFor(config: Config): Promise<Component[]> {
  const components: Component[] = [];
  // Roles register here as they arrive (SMTP frontend, delivery-channel backend...).
  void config;
  return components;
}
