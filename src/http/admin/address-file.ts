import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * <data>/admin-api.json: where a member on PGlite serves its admin API. PGlite is one
 * process's database, so the CLI finds the running member here and asks it instead. The pid
 * tells a file left by a killed member from a live one.
 */
export const ADMIN_ADDRESS_FILE = "admin-api.json";

export interface AdminAddress {
  /** Base URL of the admin API, e.g. http://127.0.0.1:8025/api/v1. */
  url: string;
  pid: number;
}

/** The URL a local client uses for a listener on host:port (a wildcard address is reached on loopback). */
export function localApiUrl(host: string, port: number): string {
  const reach = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reach.includes(":") ? `[${reach}]` : reach}:${port}/api/v1`;
}

export function writeAdminAddress(dataDir: string, address: AdminAddress): void {
  writeFileSync(join(dataDir, ADMIN_ADDRESS_FILE), JSON.stringify(address) + "\n", { mode: 0o600 });
}

/** Only the file this process wrote: a newer member may have replaced it. */
export function removeAdminAddress(dataDir: string, pid: number): void {
  if (readAdminAddress(dataDir)?.pid === pid) rmSync(join(dataDir, ADMIN_ADDRESS_FILE), { force: true });
}

export function readAdminAddress(dataDir: string): AdminAddress | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dataDir, ADMIN_ADDRESS_FILE), "utf8"));
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== "object" || !("url" in parsed) || !("pid" in parsed)) return null;
  const { url, pid } = parsed;
  return typeof url === "string" && typeof pid === "number" ? { url, pid } : null;
}
