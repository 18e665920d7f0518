import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { memberCredentials } from "../../src/cluster/member-credentials.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import { forwardingMember, registerFrontend } from "./forward-star.ts";
import { sinkWorld } from "./sink-world.ts";
import { queuePass } from "./queue-pass.ts";

// Forwarding server "*": a member without the frontend role sends ALL remote mail through a live
// frontend (which then applies routes and MX), authenticated with member credentials inside
// STARTTLS; a frontend keeps route-first.
const T0 = Date.UTC(2026, 5, 1, 12);
const SECRET = "forward-star-test-secret-0123456789";

const world = sinkWorld(T0);
const { clock } = world;
const sink = world.sink;

function relayAs(name: string, isFrontend: boolean) {
  const { ctx, relay, transport } = forwardingMember(world.storage, clock, { name, isFrontend, secret: SECRET });
  world.track(relay);
  return { ctx, transport };
}

async function frontendMember(name: string, port: number): Promise<void> {
  await registerFrontend(world.storage, name, port, clock.now());
}

async function submit(submittedBy: string, recipients: string[]): Promise<void> {
  await submitMessage(world.storage.db, {
    envelope: { sender: "alice@origin.test", recipients: recipients.map((address) => ({ address })) },
    content: Buffer.from("From: alice@origin.test\r\nSubject: fwd\r\n\r\nhi\r\n"),
    submittedBy,
    processor: submittedBy,
    now: clock.now(),
  });
}

async function delivered(): Promise<number> {
  const [row] = await queryRows(world.storage.db, sql`SELECT count(*) AS n FROM recipients WHERE state = 'delivered'`);
  return num(row.n);
}

describe("forwarding server '*'", () => {
  it("a backend hands mail for a routed domain to a live frontend (not the route), with member credentials inside STARTTLS", async () => {
    const route = await sink();
    const expected = memberCredentials(SECRET, "be-1", "fe-1", clock.now());
    const frontend = await sink({ starttls: true, auth: expected });
    await setRoute(world.storage.db, { domain: "routed.test", hosts: `127.0.0.1:${route.port}` });
    await frontendMember("fe-1", frontend.port);
    const { ctx, transport } = relayAs("be-1", false);
    await submit("be-1", ["a@routed.test", "b@elsewhere.test"]);
    await queuePass(ctx, transport);
    expect(route.messages).toHaveLength(0);
    expect(frontend.messages).toHaveLength(1);
    expect(frontend.messages[0].to.map((t) => t.address).sort()).toEqual(["a@routed.test", "b@elsewhere.test"]);
    expect(frontend.messages[0].tls).toBe(true);
    expect(frontend.logins).toBe(1);
    expect(await delivered()).toBe(2);
  });

  it("a frontend with '*' keeps route-first: the route's host gets the mail", async () => {
    const route = await sink();
    const other = await sink({ starttls: true });
    await setRoute(world.storage.db, { domain: "routed.test", hosts: `127.0.0.1:${route.port}` });
    await frontendMember("fe-2", other.port);
    const { ctx, transport } = relayAs("fe-1", true);
    await submit("fe-1", ["a@routed.test"]);
    await queuePass(ctx, transport);
    expect(route.messages).toHaveLength(1);
    expect(other.messages).toHaveLength(0);
    expect(other.sessions).toBe(0);
  });

  it("the hand-off is never sent in clear: a frontend without STARTTLS defers the mail", async () => {
    const plain = await sink({ auth: memberCredentials(SECRET, "be-1", "fe-1", clock.now()) });
    await frontendMember("fe-1", plain.port);
    const { ctx, transport } = relayAs("be-1", false);
    await submit("be-1", ["a@elsewhere.test"]);
    await queuePass(ctx, transport);
    expect(plain.messages).toHaveLength(0);
    expect(plain.logins).toBe(0);
    expect(await delivered()).toBe(0);
  });
});
