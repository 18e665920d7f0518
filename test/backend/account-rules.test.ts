import { sql } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addAlias } from "../../src/accounts/store.ts";
import { planActions } from "../../src/backend/account-rules.ts";
import { BackendComponent } from "../../src/backend/component.ts";
import { loadConfig } from "../../src/config.ts";
import { componentsFor } from "../../src/roles.ts";
import { queryRows, num, str } from "../../src/db/rows.ts";
import { submitMessage } from "../../src/queue/submit.ts";
import { setAccountRules, setDomainRules } from "../../src/rules/store.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { count, createAccounts, deliverOnce, DOMAIN, rawMessage, startBackend, submit, testContext, type TestBackend } from "../helpers/backends.ts";

describe("Account-Level Rules applied at delivery (real PostgreSQL, the rules engine)", () => {
  let tdb: TestDatabase;
  let backend: TestBackend;
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  let n = 0;
  const warnings: string[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    backend = await startBackend(tdb.storage, "r1", clock);
  });
  afterAll(async () => {
    await backend.stop();
    await tdb.drop();
  });

  /** A fresh account with this rule set. */
  const account = async (rules: unknown): Promise<string> => {
    const [a] = await createAccounts(tdb.storage, 1, null, `rules${n++}-`);
    if (rules) await setAccountRules(tdb.storage.db, a, rules);
    return a;
  };
  const stored = (a: string) =>
    queryRows(
      tdb.storage.db,
      sql`SELECT f.name AS folder, mm.flags, mm.subject FROM mailbox_messages mm JOIN mailbox_folders f ON f.id = mm.folder_id WHERE mm.account = ${a} ORDER BY mm.id`,
    );
  const raw = async (a: string) =>
    (await queryRows(tdb.storage.db, sql`SELECT convert_from(content, 'UTF8') AS content FROM mailbox_messages WHERE account = ${a} ORDER BY id`)).map((r) => str(r.content));
  const generated = () =>
    queryRows(
      tdb.storage.db,
      sql`SELECT m.id, m.sender, r.address, convert_from(b.content, 'UTF8') AS content FROM messages m JOIN recipients r ON r.message_id = m.id
          JOIN message_bodies b ON b.message_id = m.id WHERE m.kind = 'generated' ORDER BY m.id`,
    );

  it("folder and mark: stored in the folder the rules name (created on demand), flagged", async () => {
    const a = await account({ rules: [{ conditions: [{ field: "subject", op: "contains", value: "invoice" }], actions: [{ type: "folder", folder: "Work/Bills" }, { type: "mark", flag: "flagged" }] }] });
    await submit(backend.ctx, [a], rawMessage("Your invoice 42"));
    await submit(backend.ctx, [a], rawMessage("lunch?"));
    const out = await deliverOnce(backend.ctx);
    expect(out.filter((o) => o.address === a).map((o) => o.kind)).toEqual(["delivered", "delivered"]);
    const rows = await stored(a);
    expect(rows.map((r) => [r.folder, r.subject])).toEqual([
      ["Work/Bills", "Your invoice 42"],
      ["INBOX", "lunch?"],
    ]);
    expect(rows[0].flags).toEqual(["\\Flagged"]);
  });

  it("the sender's authentication reaches the rules through the delivery channel", async () => {
    const a = await account({ rules: [{ conditions: [{ field: "authenticated", value: true }], actions: [{ type: "folder", folder: "Authenticated" }] }] });
    await submitMessage(tdb.storage.db, {
      envelope: { sender: "alice@remote.test", recipients: [{ address: a }] },
      content: rawMessage("signed in"),
      client: { authenticatedUser: "alice" },
      submittedBy: "test",
      processor: null,
      now: clock.now(),
    });
    await submit(backend.ctx, [a], rawMessage("anonymous"));
    await deliverOnce(backend.ctx);
    expect((await stored(a)).map((r) => [r.folder, r.subject])).toEqual([
      ["Authenticated", "signed in"],
      ["INBOX", "anonymous"],
    ]);
  });

  it("discard: delivered, nothing stored", async () => {
    const a = await account({ rules: [{ conditions: [{ field: "from", op: "matches", value: "*@remote.test" }], actions: [{ type: "discard" }] }] });
    await submit(backend.ctx, [a], rawMessage("spam"));
    const out = await deliverOnce(backend.ctx);
    expect(out.find((o) => o.address === a)?.kind).toBe("delivered");
    expect(await stored(a)).toEqual([]);
  });

  it("reject: the recipient fails with 5.7.1 and the rule's text; nothing stored", async () => {
    const a = await account({ rules: [{ conditions: [{ field: "size", op: "over", value: 100 }], actions: [{ type: "reject", text: "too big for me" }] }] });
    await submit(backend.ctx, [a], rawMessage("large", [], "x".repeat(500)));
    const out = await deliverOnce(backend.ctx);
    expect(out.find((o) => o.address === a)).toMatchObject({ kind: "failed", reply: { code: 550, enhanced: "5.7.1", text: "too big for me" } });
    const [row] = await queryRows(tdb.storage.db, sql`SELECT state, last_status, last_text FROM recipients WHERE address = ${a}`);
    expect(row).toMatchObject({ state: "failed", last_status: "5.7.1", last_text: "too big for me" });
    expect(await stored(a)).toEqual([]);
  });

  it("add_header: the stored copy carries the fields on top, the original bytes below", async () => {
    const a = await account({ rules: [{ actions: [{ type: "add_header", name: "X-Filed", value: "reports" }, { type: "add_header", name: "X-Rule", value: "two" }, { type: "folder", folder: "Reports" }] }] });
    const content = rawMessage("filed");
    await submit(backend.ctx, [a], content);
    await deliverOnce(backend.ctx);
    expect((await stored(a)).map((r) => [r.folder, r.subject])).toEqual([["Reports", "filed"]]);
    const [copy] = await raw(a);
    expect(copy).toBe(`X-Filed: reports\r\nX-Rule: two\r\n${new TextDecoder().decode(content)}`);
  });

  it("reject with the rule's own code: the outcome and the recipient row carry it", async () => {
    const a = await account({ rules: [{ actions: [{ type: "reject", code: 553, text: "not this mailbox" }] }] });
    await submit(backend.ctx, [a], rawMessage("refused"));
    const out = await deliverOnce(backend.ctx);
    expect(out.find((o) => o.address === a)).toMatchObject({ kind: "failed", reply: { code: 553, enhanced: "5.7.1", text: "not this mailbox" } });
    expect(await stored(a)).toEqual([]);
  });

  it("domain rules run first and their stop skips the account's", async () => {
    const a = await account({ rules: [{ actions: [{ type: "folder", folder: "Mine" }] }] });
    await setDomainRules(tdb.storage.db, DOMAIN, { rules: [{ conditions: [{ field: "header", name: "X-Spam-Flag", op: "is", value: "YES" }], actions: [{ type: "folder", folder: "Junk" }, { type: "stop" }] }] });
    try {
      await submit(backend.ctx, [a], rawMessage("spam", ["X-Spam-Flag: YES"]));
      await submit(backend.ctx, [a], rawMessage("ham"));
      await deliverOnce(backend.ctx);
      expect((await stored(a)).map((r) => [r.folder, r.subject])).toEqual([
        ["Junk", "spam"],
        ["Mine", "ham"],
      ]);
    } finally {
      await setDomainRules(tdb.storage.db, DOMAIN, { rules: [] });
    }
  });

  it("a stored rule set that no longer validates (edited in SQL) is skipped and logged by the backend a member runs; the message is kept", async () => {
    const a = await account(null);
    await tdb.storage.db.execute(sql`UPDATE accounts SET rules = ${JSON.stringify({ rules: [{ actions: [{ type: "folder" }] }] })}::jsonb WHERE address = ${a}`);
    // The backend component as src/roles.ts builds it for a member, not one wired by the test.
    const member = (await componentsFor(loadConfig({}, { name: "r-roles", role: "backend" }))).find((c) => c instanceof BackendComponent);
    if (!(member instanceof BackendComponent)) throw new Error("no backend component for role backend");
    const ctx = { ...testContext(tdb.storage, "r-roles", clock), logger: pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) }) };
    member.prepare(ctx);
    warnings.length = 0;
    const content = rawMessage("kept anyway");
    const recipient = { id: 1, account: a, orcpt: null, notify: null };
    const answers = await member.delivery!.deliver({ messageId: 1, sender: "alice@remote.test", envid: null, ret: null, authenticated: false, size: content.byteLength, recipients: [recipient] }, content);
    expect(answers).toMatchObject([{ status: "stored", code: 250 }]);
    expect((await stored(a)).map((r) => r.folder)).toEqual(["INBOX"]);
    const logged = warnings.map((w) => JSON.parse(w) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ msg: "stored rule set does not validate; skipped", where: `account ${a}`, err: "rules[0].actions[0].folder: must be a non-empty string" }));
    await member.stop();
  });

  it("redirect: submitted as generated mail with Auto-Submitted and the loop header; a message it redirected before is kept instead", async () => {
    const a = await account({ rules: [{ actions: [{ type: "redirect", to: ["elsewhere@remote.test"] }] }] });
    const before = (await generated()).length;
    await submit(backend.ctx, [a], rawMessage("please redirect"));
    await deliverOnce(backend.ctx);
    expect(await stored(a)).toEqual([]);
    const gen = (await generated()).slice(before);
    expect(gen).toHaveLength(1);
    expect(gen[0]).toMatchObject({ sender: "alice@remote.test", address: "elsewhere@remote.test" });
    expect(str(gen[0].content)).toContain(`X-Mailcluster-Loop: ${a}\r\n`);
    expect(str(gen[0].content)).toContain("Resent-To: <elsewhere@remote.test>");
    expect(str(gen[0].content)).toContain("Auto-Submitted: auto-generated");
    expect(str(gen[0].content)).toContain("Subject: please redirect");

    // It comes back around: this account does not redirect it again.
    await submit(backend.ctx, [a], rawMessage("came back", [`X-Mailcluster-Loop: ${a}`]));
    await deliverOnce(backend.ctx);
    expect((await generated()).length).toBe(before + 1);
    expect((await stored(a)).map((r) => r.folder)).toEqual(["INBOX"]);
  });

  it("forward: a copy goes out from the account and the message is kept", async () => {
    const a = await account({ rules: [{ actions: [{ type: "forward", to: ["copy@remote.test"] }] }] });
    const before = (await generated()).length;
    await submit(backend.ctx, [a], rawMessage("keep and copy"));
    await deliverOnce(backend.ctx);
    expect((await stored(a)).map((r) => r.folder)).toEqual(["INBOX"]);
    const gen = (await generated()).slice(before);
    expect(gen.map((g) => [g.sender, g.address])).toEqual([[a, "copy@remote.test"]]);
    expect(str(gen[0].content)).toContain("Subject: Fwd: keep and copy");
    expect(str(gen[0].content)).toContain("message/rfc822");
  });

  it("vacation: once per sender within the period, never to the null sender or list mail", async () => {
    const a = await account({ rules: [{ actions: [{ type: "vacation", text: "I am away", days: 7 }] }] });
    const before = (await generated()).length;
    await submit(backend.ctx, [a], rawMessage("one"));
    await submit(backend.ctx, [a], rawMessage("two"));
    await submit(backend.ctx, [a], rawMessage("bounce"), "");
    await submit(backend.ctx, [a], rawMessage("list", ["List-Id: <dev.lists.test>"]), "list@remote.test");
    await deliverOnce(backend.ctx);
    let gen = (await generated()).slice(before);
    expect(gen.map((g) => [g.sender, g.address])).toEqual([["", "alice@remote.test"]]);
    expect(str(gen[0].content)).toContain("Auto-Submitted: auto-replied");
    expect(str(gen[0].content)).toContain("I am away");
    expect(await stored(a)).toHaveLength(4);
    // After the period, the same sender gets one again.
    clock.advance(8 * 86_400_000);
    await backend.heartbeat();
    await submit(backend.ctx, [a], rawMessage("three"));
    await deliverOnce(backend.ctx);
    gen = (await generated()).slice(before);
    expect(gen.filter((g) => g.address === "alice@remote.test")).toHaveLength(2);
  });

  it("an alias delivers to its local accounts and hands remote targets on once; an alias loop fails", async () => {
    const [x, y] = await createAccounts(tdb.storage, 2, null, "aliased");
    const alias = await addAlias(tdb.storage.db, `team@${DOMAIN}`, [x, y, "outside@remote.test"]);
    const before = (await generated()).length;
    await submit(backend.ctx, [alias], rawMessage("to the team"));
    const out = await deliverOnce(backend.ctx);
    expect(out.find((o) => o.address === alias)).toMatchObject({ kind: "delivered" });
    expect(await stored(x)).toHaveLength(1);
    expect(await stored(y)).toHaveLength(1);
    const gen = (await generated()).slice(before);
    expect(gen.map((g) => g.address)).toEqual(["outside@remote.test"]);
    expect(str(gen[0].content)).toContain(`X-Mailcluster-Alias-Expanded: ${alias}`);

    const loop = await addAlias(tdb.storage.db, `loop@${DOMAIN}`, ["away@remote.test"]);
    await submit(backend.ctx, [loop], rawMessage("looping", [`X-Mailcluster-Alias-Expanded: ${loop}`]));
    const looped = await deliverOnce(backend.ctx);
    expect(looped.find((o) => o.address === loop)).toMatchObject({ kind: "failed", reply: { enhanced: "5.4.6" } });
    expect(await count(tdb.storage, sql`SELECT count(*)::int AS n FROM recipients WHERE address = 'away@remote.test'`)).toBe(0);
    const unknown = await submit(backend.ctx, [`nobody@${DOMAIN}`], rawMessage("nobody"));
    const res = await deliverOnce(backend.ctx);
    expect(res.find((o) => o.messageId === unknown)).toMatchObject({ kind: "failed", reply: { enhanced: "5.1.1" } });
    expect(num((await queryRows(tdb.storage.db, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${x}`))[0].n)).toBe(1);
  });

  it("planActions: reject wins, stop ends, implicit keep unless discarded or redirected", () => {
    expect(planActions([])).toMatchObject({ folder: "INBOX", reject: null });
    expect(planActions([{ kind: "discard" }]).folder).toBeNull();
    expect(planActions([{ kind: "redirect", to: ["a@b.c"] }, { kind: "store", folder: "Kept" }])).toMatchObject({ folder: "Kept", redirect: ["a@b.c"] });
    expect(planActions([{ kind: "store", folder: "A" }, { kind: "reject", text: "no" }]).reject).toEqual({ code: 550, text: "no" });
    expect(planActions([{ kind: "add-header", name: "X-A", value: "1" }, { kind: "stop" }, { kind: "add-header", name: "X-B", value: "2" }]).headers).toEqual([["X-A", "1"]]);
    expect(planActions([{ kind: "stop" }, { kind: "discard" }]).folder).toBe("INBOX");
  });
});
