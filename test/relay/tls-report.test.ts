import { gunzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tlsPolicies, tlsRefresh, tlsReports } from "../../src/cli/commands/tls.ts";
import { num, queryRows, str } from "../../src/db/rows.ts";
import { generateDkimKey } from "../../src/dkim/store.ts";
import { addDomain } from "../../src/accounts/store.ts";
import { readMessageBody } from "../../src/queue/body.ts";
import { TlsReportRecorder } from "../../src/tls-report/recorder.ts";
import { ruaMailtos } from "../../src/tls-report/report.ts";
import type { TlsReportPolicy } from "../../src/tls-report/results.ts";
import { runTlsReportPass } from "../../src/tls-report/send.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { adminApp, call } from "../helpers/admin-app.ts";
import { testContext } from "./context.ts";
import { fakeDns } from "./fake-dns.ts";

const DAY = Date.UTC(2026, 5, 1);
const sts: TlsReportPolicy = { domain: "dest.test", type: "sts", policyString: "version: STSv1\nmode: enforce\nmx: mx1.dest.test\nmax_age: 86400", mxHost: "mx1.dest.test" };
const none: TlsReportPolicy = { domain: "plain.test", type: "no-policy-found", policyString: "", mxHost: "" };

describe("TLS-RPT: daily aggregate reports", () => {
  let tdb: TestDatabase;
  const clock = new ManualClock(DAY + 8 * 3600_000);
  const dns = fakeDns({
    "_smtp._tls.dest.test": { txt: ["v=TLSRPTv1; rua=mailto:tlsrpt@reports.test,https://reports.test/v1"] },
    "_smtp._tls.busy.test": { txt: "SERVFAIL" },
  });

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });
  beforeEach(async () => {
    clock.set(DAY + 8 * 3600_000);
    await tdb.storage.db.execute(sql`TRUNCATE messages, recipients, attempts, tls_rpt_results, tls_rpt_reports RESTART IDENTITY CASCADE`);
  });

  async function countDay(ctx: ReturnType<typeof testContext>) {
    const rec = new TlsReportRecorder();
    for (let i = 0; i < 5; i++) rec.record({ policy: sts, result: "success", mxHost: "mx1.dest.test", ip: "192.0.2.1" }, clock.now());
    rec.record({ policy: sts, result: "certificate-expired", mxHost: "mx1.dest.test", ip: "192.0.2.1", info: "CERT_HAS_EXPIRED" }, clock.now());
    rec.record({ policy: sts, result: "certificate-expired", mxHost: "mx1.dest.test", ip: "192.0.2.1", info: "CERT_HAS_EXPIRED" }, clock.now());
    rec.record({ policy: sts, result: "validation-failure", mxHost: "mx9.elsewhere.test", ip: "192.0.2.9", info: "MX host not listed" }, clock.now());
    rec.record({ policy: none, result: "success" }, clock.now());
    rec.record({ policy: { ...none, domain: "busy.test" }, result: "success" }, clock.now());
    expect(rec.pending).toBe(10);
    expect(await rec.flush(ctx.db)).toBe(10);
    // A second flush of the same member adds to the rows instead of replacing them.
    rec.record({ policy: sts, result: "success" }, clock.now());
    await rec.flush(ctx.db);
    expect(rec.pending).toBe(0);
  }

  it("parses the rua of an _smtp._tls record: mailto only, one record only", () => {
    // https: is skipped, and so is a mailto: that does not decode to one address.
    expect(ruaMailtos([["v=TLSRPTv1; rua=mailto:a@x.test,mailto:b%40y@y.test,https://x.test/r"]])).toEqual(["a@x.test"]);
    expect(ruaMailtos([["v=TLSRPTv1; rua=mailto:tls%2Brpt@x.test"]])).toEqual(["tls+rpt@x.test"]);
    expect(ruaMailtos([["v=TLSRPTv1;", "rua=mailto:tls@x.test"]])).toEqual(["tls@x.test"]);
    expect(ruaMailtos([["v=TLSRPTv1; rua=mailto:a@x.test"], ["v=TLSRPTv1; rua=mailto:b@x.test"]])).toBeNull();
    expect(ruaMailtos([["v=spf1 -all"]])).toBeNull();
  });

  it("a finished day's report (successes and failures) is gzipped JSON sent once to the rua address through the queue", async () => {
    const ctx = testContext(tdb.storage, clock, { config: { memberName: "m1", hostname: "mta.sender.test" } });
    await tdb.storage.db.execute(sql`TRUNCATE dkim_keys, domains CASCADE`);
    await addDomain(ctx.db, "mta.sender.test");
    await generateDkimKey(ctx.db, { domain: "mta.sender.test", selector: "rpt", algorithm: "ed25519", now: clock.now() });
    await countDay(ctx);
    // The day is not over: nothing yet.
    expect(await runTlsReportPass(ctx, dns)).toEqual({ sent: 0, noRua: 0, postponed: 0 });
    clock.set(DAY + 86400_000 + 3600_000);
    expect(await runTlsReportPass(ctx, dns)).toEqual({ sent: 1, noRua: 1, postponed: 1 });

    const messages = await queryRows(ctx.db, sql`SELECT m.id, m.sender, m.kind, r.address FROM messages m JOIN recipients r ON r.message_id = m.id`);
    expect(messages.map((m) => [str(m.sender), str(m.kind), str(m.address)])).toEqual([["postmaster@mta.sender.test", "generated", "tlsrpt@reports.test"]]);
    const raw = await readMessageBody(ctx.db, num(messages[0].id));
    const mail = await simpleParser(Buffer.from(raw ?? new Uint8Array()));
    expect(mail.subject).toMatch(/^Report Domain: dest\.test Submitter: mta\.sender\.test Report-ID: <.+>$/);
    expect(mail.headers.get("tls-report-domain")).toBe("dest.test");
    expect(Buffer.from(raw ?? new Uint8Array()).toString()).toMatch(/^Content-Type: multipart\/report; report-type="tlsrpt"; boundary=/m);
    // Signed with the From domain's DKIM key (RFC 8460 §5.3).
    expect(Buffer.from(raw ?? new Uint8Array()).toString()).toMatch(/^DKIM-Signature: [^]*d=mta\.sender\.test;[^]*s=rpt;/);
    expect(mail.attachments).toHaveLength(1);
    const att = mail.attachments[0];
    expect(att.contentType).toBe("application/tlsrpt+gzip");
    expect(att.filename).toMatch(new RegExp(`^mta\\.sender\\.test!dest\\.test!${DAY / 1000}!${DAY / 1000 + 86400}!.+\\.json\\.gz$`));
    const report: unknown = JSON.parse(gunzipSync(att.content).toString("utf8"));
    expect(report).toEqual({
      "organization-name": "mta.sender.test",
      "date-range": { "start-datetime": "2026-06-01T00:00:00Z", "end-datetime": "2026-06-01T23:59:59Z" },
      "contact-info": "postmaster@mta.sender.test",
      "report-id": expect.stringContaining("dest.test@mta.sender.test") as string,
      policies: [
        {
          policy: { "policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.dest.test", "max_age: 86400"], "policy-domain": "dest.test", "mx-host": ["mx1.dest.test"] },
          summary: { "total-successful-session-count": 6, "total-failure-session-count": 3 },
          "failure-details": [
            { "result-type": "certificate-expired", "receiving-mx-hostname": "mx1.dest.test", "receiving-ip": "192.0.2.1", "failed-session-count": 2, "additional-information": "CERT_HAS_EXPIRED" },
            { "result-type": "validation-failure", "receiving-mx-hostname": "mx9.elsewhere.test", "receiving-ip": "192.0.2.9", "failed-session-count": 1, "additional-information": "MX host not listed" },
          ],
        },
      ],
    });

    // Once: a later pass, and a pass of another member, find the marker.
    const other = testContext(tdb.storage, clock, { config: { memberName: "m2", hostname: "mta2.sender.test" } });
    const again = await Promise.all([runTlsReportPass(ctx, dns), runTlsReportPass(other, dns)]);
    expect(again.map((s) => s.sent)).toEqual([0, 0]);
    expect(num((await queryRows(ctx.db, sql`SELECT count(*) AS n FROM messages`))[0].n)).toBe(1);
    const markers = await queryRows(ctx.db, sql`SELECT policy_domain, status, rua FROM tls_rpt_reports ORDER BY policy_domain`);
    expect(markers.map((m) => [str(m.policy_domain), str(m.status), str(m.rua)])).toEqual([
      ["dest.test", "sent", "tlsrpt@reports.test"],
      ["plain.test", "no-rua", ""],
    ]);
  });

  it("two members racing for the same day send one report", async () => {
    const a = testContext(tdb.storage, clock, { config: { memberName: "m1" } });
    const b = testContext(tdb.storage, clock, { config: { memberName: "m2" } });
    await countDay(a);
    clock.set(DAY + 86400_000 + 3600_000);
    const [x, y] = await Promise.all([runTlsReportPass(a, dns), runTlsReportPass(b, dns)]);
    expect(x.sent + y.sent).toBe(1);
    expect(num((await queryRows(a.db, sql`SELECT count(*) AS n FROM messages`))[0].n)).toBe(1);
  });

  it("CLI: tls reports (counts and report status per day), tls policies and tls refresh", async () => {
    const ctx = testContext(tdb.storage, clock, { config: { memberName: "m1" } });
    await countDay(ctx);
    clock.set(DAY + 86400_000 + 3600_000);
    await runTlsReportPass(ctx, dns);
    const lines: string[] = [];
    await tlsReports(ctx.db, { days: 7, now: clock.now() }, true, (l) => lines.push(l));
    expect(JSON.parse(lines.pop() ?? "")).toEqual([
      { day: "2026-06-01", domain: "busy.test", successes: 1, failures: 0, failure_types: null, report: "pending", rua: null },
      { day: "2026-06-01", domain: "dest.test", successes: 6, failures: 3, failure_types: "certificate-expired,validation-failure", report: "sent", rua: "tlsrpt@reports.test" },
      { day: "2026-06-01", domain: "plain.test", successes: 1, failures: 0, failure_types: null, report: "no-rua", rua: "" },
    ]);

    await tdb.storage.db.execute(sql`TRUNCATE mta_sts_policies`);
    await tdb.storage.db.execute(
      sql`INSERT INTO mta_sts_policies (domain, txt_id, mode, mx, max_age, policy_text, fetched_at, expires_at, checked_at)
          VALUES ('dest.test', 'id1', 'enforce', '{mx1.dest.test}', 86400, 'version: STSv1', now(), now() + interval '1 day', now())`,
    );
    await tlsPolicies(ctx.db, true, (l) => lines.push(l));
    expect(JSON.parse(lines.pop() ?? "")).toMatchObject([{ domain: "dest.test", mode: "enforce", mx: "mx1.dest.test", id: "id1", error: null }]);
    await tlsRefresh(ctx.db, "Dest.Test", false, (l) => lines.push(l));
    expect(lines.pop()).toBe("MTA-STS policy of dest.test dropped; fetched again at the next delivery");
    await tlsRefresh(ctx.db, "dest.test", false, (l) => lines.push(l));
    expect(lines.pop()).toBe("no cached MTA-STS policy for dest.test");
    await expect(tlsRefresh(ctx.db, "not a domain", false, (l) => lines.push(l))).rejects.toThrow(/bad route domain/);
  });

  it("API: GET /tls/reports and /tls/policies, DELETE /tls/policies/:domain, precise 400/404", async () => {
    const ctx = testContext(tdb.storage, clock, { config: { memberName: "m1" } });
    await countDay(ctx);
    clock.set(DAY + 86400_000 + 3600_000);
    await runTlsReportPass(ctx, dns);
    const { app } = adminApp(tdb.storage.db, clock);
    expect((await call(app, "GET", "/tls/reports", undefined, null)).status).toBe(401);
    const reports = await call(app, "GET", "/tls/reports?days=3");
    expect(reports).toMatchObject({ status: 200, body: { days: 3 } });
    expect((reports.body as { items: unknown[] }).items).toContainEqual({ day: "2026-06-01", domain: "dest.test", successes: 6, failures: 3, failureTypes: ["certificate-expired", "validation-failure"], report: "sent", rua: "tlsrpt@reports.test" });
    expect(await call(app, "GET", "/tls/reports?days=-1")).toMatchObject({ status: 400 });

    await tdb.storage.db.execute(sql`TRUNCATE mta_sts_policies`);
    await tdb.storage.db.execute(sql`INSERT INTO mta_sts_policies (domain, txt_id, mode, checked_at, error_type, error) VALUES ('broken.test', 'x1', 'none', now(), 'sts-webpki-invalid', 'CERT_HAS_EXPIRED')`);
    const policies = await call(app, "GET", "/tls/policies");
    expect(policies).toMatchObject({ status: 200, body: { items: [{ domain: "broken.test", mode: "error", mx: [], id: "x1", expiresAt: null, error: "sts-webpki-invalid: CERT_HAS_EXPIRED" }] } });
    expect(await call(app, "DELETE", "/tls/policies/Broken.Test")).toMatchObject({ status: 200, body: { dropped: "broken.test" } });
    expect(await call(app, "DELETE", "/tls/policies/broken.test")).toMatchObject({ status: 404, body: { error: "no cached MTA-STS policy for broken.test" } });
    expect(await call(app, "DELETE", "/tls/policies/not_a%20domain")).toMatchObject({ status: 400 });
  });
});
