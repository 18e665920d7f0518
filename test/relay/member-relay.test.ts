import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectRuntime } from "../../adapters/runtime/index.ts";
import { setSetting } from "../../src/cluster/settings.ts";
import { loadConfig } from "../../src/config.ts";
import { num, queryRows } from "../../src/db/rows.ts";
import { Member } from "../../src/member.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { setRoute } from "../../src/relay/routes-store.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { until } from "../helpers/until.ts";
import { parseDsn } from "./dsn-parse.ts";

/** The whole way through a running member: queue worker → relay → sink, and the bounce back out. */
describe("a member relays remote mail and bounces failures", () => {
  let tdb: TestDatabase;
  let sink: SmtpSink;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    sink = await startSmtpSink({ rcpt: (a) => (a.startsWith("gone") ? "reject" : "accept") });
  });
  afterAll(async () => {
    await sink.close();
    await tdb.drop();
  });

  it("delivers the good recipient, and the DSN for the bad one goes out with the null sender", async () => {
    await setRoute(tdb.storage.db, { domain: "*", hosts: `127.0.0.1:${sink.port}` });
    // Long enough that the kept connection is still there for the DSN on a loaded machine.
    await setSetting(tdb.storage.db, "relay_idle_ms", 60_000);
    const config = { ...loadConfig({ MEMBER_NAME: "relay-member", MAILCLUSTER_ROLE: "backend", SUBMIT_MODE: "locally", MAILCLUSTER_HOSTNAME: "mta.member.test" }), smtpPort: 0, httpPort: 0 };
    const member = await Member.start({ config, storage: tdb.storage, runtime: await detectRuntime(), logger: silentLogger, components: [] });
    try {
      await submitMessage(tdb.storage.db, {
        envelope: { sender: "alice@origin.test", recipients: [{ address: "ok@far.test" }, { address: "gone@far.test" }] },
        content: Buffer.from("From: alice@origin.test\r\nSubject: through the member\r\n\r\nhi\r\n"),
        submittedBy: "relay-member",
        processor: "relay-member",
        now: new Date(),
      });
      await until(() => sink.messages.some((m) => m.from === ""), "the DSN reaching the sink", 20_000);
      const original = sink.messages.find((m) => m.from === "alice@origin.test");
      expect(original?.to.map((t) => t.address)).toEqual(["ok@far.test"]);
      const bounce = sink.messages.find((m) => m.from === "");
      expect(bounce?.to.map((t) => t.address)).toEqual(["alice@origin.test"]);
      const d = await parseDsn(bounce?.content ?? Buffer.alloc(0));
      expect(d.perMessage["Reporting-MTA"]).toBe("dns; mta.member.test");
      expect(d.recipients.map((r) => [r["Final-Recipient"], r.Action, r.Status])).toEqual([["rfc822; gone@far.test", "failed", "5.1.1"]]);
      const [row] = await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM messages WHERE kind = 'dsn'`);
      expect(num(row.n)).toBe(1);
      // The original and the DSN went over one kept connection; no trouble on the way.
      const m = member.ctx.metrics;
      expect(m.value("mailcluster_relay_connections_total", { result: "opened" })).toBe(1);
      expect(m.value("mailcluster_relay_connection_reuses_total")).toBe(1);
      expect(m.value("mailcluster_relay_transactions_total", { result: "answered" })).toBe(2);
    } finally {
      await member.stop();
    }
  });
});
