import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readAdminAddress } from "../http/admin/address-file.ts";
import { isProcessAlive } from "../util/process-alive.ts";

/**
 * The admin API of the member running on this data dir's PGlite, with the token to use:
 * ADMIN_TOKEN when this environment sets it, else the one the member wrote to <data>/admin-token.
 * Null when no live member left its address.
 */
export function runningAdminApi(dataDir: string, configuredToken: string | null): { url: string; token: string } | null {
  const address = readAdminAddress(dataDir);
  if (!address || !isProcessAlive(address.pid)) return null;
  let token = configuredToken?.trim() ?? "";
  if (token === "") {
    const file = join(dataDir, "admin-token");
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      throw new Error(`a member (pid ${address.pid}) holds the PGlite database and serves its admin API at ${address.url}, but ${file} is missing: set ADMIN_TOKEN to the token it was started with`);
    }
  }
  return { url: address.url, token };
}
