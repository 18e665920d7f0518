import type { AppContext } from "../../src/app-context.ts";
import { registerMember } from "../../src/cluster/members.ts";
import type { Storage } from "../../src/db/storage.ts";
import { createRelayTransport } from "../../src/delivery/remote.ts";
import type { Transport } from "../../src/delivery/transport.ts";
import type { Clock } from "../../src/domain/types.ts";
import { Relay } from "../../src/relay/relay.ts";
import { testContext } from "./context.ts";
import { fakeDns } from "./fake-dns.ts";

// Forwarding server "*": a member without the frontend role hands ALL remote mail to a live
// frontend (before routes and MX), with member credentials from the cluster secret inside
// STARTTLS. The set-up of test/relay/forward-star.test.ts and test/dkim/hand-off.test.ts.

export interface ForwardingMember {
  ctx: AppContext;
  /** Closed by the caller (sinkWorld's track, or its own afterAll). */
  relay: Relay;
  transport: Transport;
}

/**
 * Member `name` with forwarding server "*" and no pooled connections (relay idle 0): a backend,
 * or a frontend-and-backend when `isFrontend`. No DNS (every MX on port 1): only a hand-off or a
 * route can deliver. `secret` is the cluster secret for member credentials; absent = no AUTH.
 */
export function forwardingMember(storage: Storage, clock: Clock, o: { name: string; isFrontend?: boolean; secret?: string }): ForwardingMember {
  const isFrontend = o.isFrontend ?? false;
  const ctx = testContext(storage, clock, { settings: { forwarding_server: "*", relay_idle_ms: 0 }, config: { memberName: o.name, roles: isFrontend ? ["frontend", "backend"] : ["backend"] } });
  const secret = o.secret;
  const relay = new Relay({
    db: ctx.db,
    resolver: fakeDns({}),
    random: { next: () => 0 },
    clock,
    logger: ctx.logger,
    settings: () => ctx.settings(),
    ehloName: ctx.config.hostname,
    memberName: o.name,
    isFrontend,
    mxPort: 1,
    clusterSecret: secret === undefined ? undefined : async () => secret,
  });
  return { ctx, relay, transport: createRelayTransport(relay) };
}

/** A live frontend member `name` whose SMTP listens on 127.0.0.1:`port` (the hand-off's target). */
export async function registerFrontend(storage: Storage, name: string, port: number, now: Date): Promise<void> {
  await registerMember(storage.db, { name, roles: ["frontend"], smtpEndpoint: `127.0.0.1:${port}`, httpUrl: null, submitMode: "locally", hostname: null, pid: null, version: null }, now);
}
