import type { Component } from "./component.ts";
import type { Config } from "./config.ts";

/** The components a member runs for its roles. Each role's module is loaded only when needed. */
export async function componentsFor(config: Config): Promise<Component[]> {
  const components: Component[] = [];
  // Roles register here as they arrive (SMTP frontend, delivery-channel backend...).
  if (config.roles.includes("frontend")) {
    const { smtpFrontendComponent } = await import("./smtp/component.ts");
    components.push(smtpFrontendComponent());
  }
  if (config.roles.includes("backend")) {
    const { createBackendComponent } = await import("./backend/component.ts");
    // The rules engine with its logger for stored rule sets that no longer validate.
    components.push(createBackendComponent());
  }
  // Every member serves the admin API (/api/v1) and WebAdmin (/admin) on its HTTP port.
  const { adminComponent } = await import("./http/admin/component.ts");
  components.push(adminComponent());
  return components;
}
