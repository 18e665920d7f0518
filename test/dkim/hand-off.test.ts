import { dkimVerify } from "mailauth";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDomain } from "../../src/accounts/store.ts";
import { queryRows, str } from "../../src/db/rows.ts";
import { signGenerated } from "../../src/dkim/sign.ts";
import { generateDkimKey } from "../../src/dkim/store.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import type { Relay } from "../../src/relay/relay.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { forwardingMember, registerFrontend } from "../relay/forward-star.ts";
import { queuePass } from "../relay/queue-pass.ts";
import { startHarness, type Harness } from "../smtp/harness.ts";
import { fakeAuthDns } from "./fake-dns.ts";

// A backend's generated mail, signed where it was composed, handed to a real frontend with
// forwarding server "*" (member credentials inside STARTTLS): the frontend queues it with the
// one signature it had, and verifies nothing (it is not inbound mail).
let tdb: TestDatabase;
let frontend: Harness;
let relay: Relay | null = null;
const txt: Record<string, string[]> = {};

beforeAll(async () => {
  tdb = await createTestDatabase();
  await addDomain(tdb.storage.db, "example.com");
  for (const [selector, algorithm] of [["r1", "rsa"], ["e1", "ed25519"]] as const) {
    const k = await generateDkimKey(tdb.storage.db, { domain: "example.com", selector, algorithm, now: new Date() });
    txt[k.dns.name] = [k.dns.value];
  }
  frontend = await startHarness(tdb.storage, { inbound_auth_results: true }, { authDns: fakeAuthDns(txt) });
});
afterAll(async () => {
  await relay?.close();
  await frontend?.close();
  await tdb?.drop();
});

describe("a frontend-relayed message", () => {
  it("carries exactly one signature per key from us, and it verifies", async () => {
    const db = tdb.storage.db;
    const clock = frontend.clock;
    await registerFrontend(tdb.storage, frontend.ctx.config.memberName, frontend.port, clock.now());
    const backend = forwardingMember(tdb.storage, clock, { name: "be-1", secret: await frontend.ctx.clusterSecret.get() });
    relay = backend.relay;
    const { ctx, transport } = backend;
    // As submitGenerated does for a forward from alice@example.com.
    const content = await signGenerated(ctx, Buffer.from("From: alice@example.com\r\nTo: carol@far.example.org\r\nSubject: fwd\r\nMessage-ID: <h1@example.com>\r\n\r\nforwarded\r\n"), "example.com");
    const { messageId } = await submitMessage(db, {
      envelope: { sender: "alice@example.com", recipients: [{ address: "carol@far.example.org" }] },
      content,
      submittedBy: "be-1",
      processor: "be-1",
      kind: "generated",
      now: clock.now(),
    });
    const pass = await queuePass(ctx, transport);
    expect(pass.results.map((r) => r.outcome.kind)).toEqual(["delivered"]);

    const rows = await queryRows(db, sql`SELECT convert_from(b.content, 'UTF8') AS body FROM messages m JOIN message_bodies b ON b.message_id = m.id WHERE m.submitted_by = ${frontend.ctx.config.memberName} AND m.id <> ${messageId}`);
    expect(rows).toHaveLength(1);
    const body = str(rows[0].body);
    const fields = body.slice(0, body.indexOf("\r\n\r\n")).split(/\r\n(?![ \t])/);
    expect(fields.filter((f) => /^dkim-signature:/i.test(f)).map((f) => /; s=([^;]+);/.exec(f)?.[1]).sort()).toEqual(["e1", "r1"]);
    expect(fields.some((f) => /^authentication-results:/i.test(f))).toBe(false);
    expect(fields.some((f) => /^received:/i.test(f) && f.includes("member:be-1"))).toBe(true);
    const r = await dkimVerify(Buffer.from(body), { resolver: fakeAuthDns(txt) });
    expect(r.results.map((x) => x.status.result)).toEqual(["pass", "pass"]);
  });
});
