import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Component } from "../../component.ts";
import { mountWebAdmin } from "../webadmin/app.ts";
import { mountAdminApi } from "./api.ts";
import { localApiUrl, removeAdminAddress, writeAdminAddress } from "./address-file.ts";
import { LoginThrottle } from "../shared/login-throttle.ts";
import { resolveAdminToken } from "./token.ts";

/**
 * Admin API (/api/v1) and WebAdmin (/admin) on every member's HTTP port. The token is
 * resolved before the HTTP app is built, so neither surface is ever served without one.
 */
export function adminComponent(): Component {
  let addressWrittenIn: string | null = null;
  return {
    name: "admin",
    async prepare(ctx) {
      const { token, source } = await resolveAdminToken(ctx.db, ctx.config.adminToken, ctx.logger);
      // The embedded database is locked by this process, so `mailcluster admin-token` cannot
      // read it while we run: hand a newcomer the token in a private file in the data dir.
      if (ctx.storage.name === "pglite" && source !== "env") {
        const path = join(ctx.config.dataDir, "admin-token");
        writeFileSync(path, token + "\n", { mode: 0o600 });
        ctx.logger.info({ file: path, webadmin: "/admin", api: "/api/v1" }, "admin token written for the embedded setup");
      }
      // ...and where to find the API: the CLI talks to it while this process holds PGlite.
      if (ctx.storage.name === "pglite" && ctx.config.httpPort > 0) {
        writeAdminAddress(ctx.config.dataDir, { url: localApiUrl(ctx.config.host, ctx.config.httpPort), pid: process.pid });
        addressWrittenIn = ctx.config.dataDir;
      }
      // One throttle for both surfaces: a guesser gets the same budget via the API or the login form.
      const deps = { db: ctx.db, clock: ctx.clock, logger: ctx.logger, token, throttle: new LoginThrottle(ctx.clock) };
      ctx.httpMounts.push((app) => {
        mountAdminApi(app, deps);
        mountWebAdmin(app, deps);
      });
    },
    async stop() {
      if (addressWrittenIn !== null) removeAdminAddress(addressWrittenIn, process.pid);
    },
  };
}
