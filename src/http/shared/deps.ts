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
  /** Wrong-token accounting shared by the API and the WebAdmin login; one is made from `clock` when absent. */
  throttle?: LoginThrottle;
}

/** The deps' throttle, made once per deps object when the caller gave none. */
const made = new WeakMap<AdminDeps, LoginThrottle>();
export function loginThrottle(d: AdminDeps, make: () => LoginThrottle): LoginThrottle {
  if (d.throttle) return d.throttle;
  let t = made.get(d);
  if (!t) {
    t = make();
    made.set(d, t);
  }
  return t;
}
