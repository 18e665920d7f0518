import type { Clock } from "../../domain/types.ts";
import type { Db } from "../../db/db.ts";
import type { Logger } from "../../util/logger.ts";
import type { LoginThrottle } from "./login-throttle.ts";

/** What the admin API and WebAdmin need from the member: injected, so tests build them on a test database. */
export interface AdminDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** The bearer token (ADMIN_TOKEN or the cluster's stored one). */
  token: string;
  /**
   * Wrong-token accounting shared by the API and the WebAdmin login: one for both surfaces, so a
   * guesser gets the same budget via either (the admin component makes it, tests pass theirs).
   */
  throttle: LoginThrottle;
}
