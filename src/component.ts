import type { AppContext } from "./app-context.ts";

/**
 * A part of a member that starts and stops with it (SMTP frontend, delivery-channel server,
 * relay pool...). `prepare` runs before the HTTP app is built, so it can add route groups;
 * `start` after the database, membership and HTTP are up; `stop` in reverse order.
 */
export interface Component {
  readonly name: string;
  prepare?(ctx: AppContext): void | Promise<void>;
  start?(ctx: AppContext): Promise<void>;
  stop?(): Promise<void>;
}
