import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/db.ts";
import type { SubmitMode } from "../../src/domain/types.ts";
import { queryRows } from "../../src/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.ts";
import { runCli } from "../helpers/spawn.ts";
import { until } from "../helpers/until.ts";
import { crash, freePorts, logLines, type MemberProcess, spawnMember, stopGracefully } from "./processes.ts";
import {
  configureCluster,
  count,
  createAccounts,
  EXTERNAL,
  queueRows,
  receipts,
  REDIRECT_TARGET,
  REDIRECTOR,
  send,
  SENDER_DOMAIN,
  smtpClient,
  startWorld,
  type World,
} from "./world.ts";

/**
 * The cluster with real processes: 2 frontends, 2 backends (`mailcluster start`), one
 * PostgreSQL database, a sink as the Internet, SMTP clients. Scenarios 1-4 of the cluster
 * issue, in order, each starting from the state the previous one left.
 */
const TIMING = { memberTimeoutSeconds: 4, heartbeatSeconds: 0.5 };
const SCENARIO4_MESSAGES = 200;
const SENDER = `alice@${SENDER_DOMAIN}`;

describe("a cluster of real processes", () => {
  let tdb: TestDatabase;
  let db: Db;
  let world: World;
  let accounts: string[];
  const procs = new Map<string, MemberProcess>();

  const start = async (name: string, role: "frontend" | "backend", submit: SubmitMode, ports?: [number, number]) => {
    const p = await spawnMember({ name, role, submit, databaseUrl: tdb.url, ports });
    procs.set(name, p);
    return p;
  };
  const proc = (name: string): MemberProcess => {
    const p = procs.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  };
  const setMode = async (name: string, mode: SubmitMode) => {
    const r = await runCli(["member", "mode", name, mode], { DATABASE_URL: tdb.url });
    expect(r.code, r.stderr).toBe(0);
  };
  /** The member has read its new mode from its row (with a heartbeat). */
  const modeApplied = (name: string, mode: SubmitMode) =>
    until(() => logLines(proc(name), "submit mode changed").some((l) => l.to === mode), `${name} switched to ${mode}`, 15_000, 50);
  const queued = () => count(db, sql`SELECT count(*)::int AS n FROM recipients WHERE state IN ('queued', 'held')`);
  const output = () => [...procs.values()].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join("\n");

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = tdb.storage.db;
    world = await startWorld();
    await configureCluster(db, world, TIMING);
    accounts = await createAccounts(db, 20);
    const ports = await freePorts(8);
    await Promise.all([
      start("fe1", "frontend", "locally-for-others", [ports[0], ports[1]]),
      start("fe2", "frontend", "locally-for-others", [ports[2], ports[3]]),
      start("be1", "backend", "locally", [ports[4], ports[5]]),
      start("be2", "backend", "locally", [ports[6], ports[7]]),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => stopGracefully(p, 5_000)));
    await world?.close();
    await tdb?.drop();
  });

  it("1. backend-generated mail: via a frontend (rules twice) in locally mode, once in remotely mode", async () => {
    const client = smtpClient(proc("fe1").smtpPort);
    try {
      await send(client, "s1-locally", SENDER, [REDIRECTOR]);
      await until(() => receipts(world.sink, "s1-locally").length > 0, `redirected message at the sink\n${output()}`, 30_000, 50);
      const rowsLocally = await queueRows(db, "s1-locally");
      // Accepted by a frontend, redirected by a backend (generated), accepted again by a frontend.
      expect(rowsLocally.map((r) => [r.kind, r.submittedBy.slice(0, 2), r.ruleInvocations])).toEqual([
        ["normal", "fe", 1],
        ["generated", "be", 0],
        ["normal", "fe", 1],
      ]);
      expect(rowsLocally.reduce((a, r) => a + r.ruleInvocations, 0)).toBe(2);
      // The backend handed it to the frontend with member credentials (AUTH inside STARTTLS), not trusted by IP.
      const handedOff = await queryRows(
        db,
        sql`SELECT m.authenticated_user, m.kind FROM messages m JOIN message_bodies b ON b.message_id = m.id
            WHERE position(convert_to(${"<s1-locally@cluster.test>"}, 'UTF8') in b.content) > 0 ORDER BY m.id`,
      );
      expect(String(handedOff[2]?.authenticated_user)).toMatch(/^member:be[12]$/);

      await setMode("be1", "remotely");
      await setMode("be2", "remotely");
      await Promise.all([modeApplied("be1", "remotely"), modeApplied("be2", "remotely")]);

      await send(client, "s1-remotely", SENDER, [REDIRECTOR]);
      await until(() => receipts(world.sink, "s1-remotely").length > 0, `redirected message at the sink\n${output()}`, 30_000, 50);
      const rowsRemotely = await queueRows(db, "s1-remotely");
      // The generated message went to the pool and a locally-for-others frontend relayed it directly.
      expect(rowsRemotely.map((r) => [r.kind, r.submittedBy.slice(0, 2), r.processor, r.ruleInvocations])).toEqual([
        ["normal", "fe", "fe1", 1],
        ["generated", "be", null, 0],
      ]);
      expect(rowsRemotely.reduce((a, r) => a + r.ruleInvocations, 0)).toBe(1);
      for (const id of ["s1-locally", "s1-remotely"]) {
        expect(receipts(world.sink, id)).toHaveLength(1);
        expect(receipts(world.sink, id)[0].to.map((t) => t.address)).toEqual([REDIRECT_TARGET]);
      }
    } finally {
      client.close();
    }
  }, 90_000);

  it("3. kill -9 a member holding claimed work: adopted after the member timeout, delivered exactly once", async () => {
    let holding = true;
    world.onData = (m) => (holding && m.content.includes("s3-held") ? "hang" : "accept");
    const client = smtpClient(proc("fe1").smtpPort);
    try {
      // A local and an external recipient: fe1 (its processor) stores the local copy and hangs
      // in the relay's DATA, its recipients leased and unrecorded, when it dies.
      await send(client, "s3-held", SENDER, [accounts[3], `held@${EXTERNAL}`]);
      await until(() => world.sink.rcpts.includes(`held@${EXTERNAL}`), "fe1 relaying the held message", 30_000, 50);
    } finally {
      client.close();
    }
    expect(await count(db, sql`SELECT count(*)::int AS n FROM recipients WHERE locked_by = 'fe1' AND state = 'queued'`)).toBeGreaterThan(0);
    await crash(proc("fe1"));
    holding = false;

    await until(() => receipts(world.sink, "s3-held").length > 0, `adopted message relayed\n${output()}`, 30_000, 100);
    const adopted = logLines(proc("fe2"), "adopted the work of dead members");
    expect(adopted.length).toBeGreaterThan(0);
    expect(adopted.some((l) => JSON.stringify(l.from).includes("fe1"))).toBe(true);
    await until(async () => (await queued()) === 0, "nothing queued", 30_000, 100);
    expect(receipts(world.sink, "s3-held")).toHaveLength(1);
    expect(await count(db, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE account = ${accounts[3]} AND subject = 's3-held'`)).toBe(1);
    const rows = await queueRows(db, "s3-held");
    expect(rows.map((r) => r.processor)).toEqual(["fe2"]);

    // fe1 comes back: it claims only what names it, and nothing adopted names it any more.
    await start("fe1", "frontend", "locally-for-others");
    expect((await queueRows(db, "s3-held")).map((r) => r.processor)).toEqual(["fe2"]);
  }, 90_000);

  it("2. with no locally-for-others member alive, a remotely member falls back to its own processing", async () => {
    // fe2 stops; fe1 stays up as an SMTP frontend but no longer serves others.
    expect(await stopGracefully(proc("fe2"))).toBe(0);
    procs.delete("fe2");
    await setMode("fe1", "locally");
    await modeApplied("fe1", "locally");
    // The backends see it with their next heartbeats.
    await until(
      () => ["be1", "be2"].every((b) => logLines(proc(b), "no live locally-for-others member").length > 0),
      "backends noticed no pool server is alive",
      15_000,
      50,
    );

    const client = smtpClient(proc("fe1").smtpPort);
    try {
      await send(client, "s2-fallback", SENDER, [REDIRECTOR]);
      await until(() => receipts(world.sink, "s2-fallback").length > 0, `fallback message relayed\n${output()}`, 30_000, 50);
    } finally {
      client.close();
    }
    const rows = await queueRows(db, "s2-fallback");
    const generated = rows.find((r) => r.kind === "generated");
    expect(generated?.processor).toBe(generated?.submittedBy);
    const fallbacks = ["be1", "be2"].flatMap((b) => logLines(proc(b), "no live locally-for-others member: processing own message (fallback)"));
    // At least the redirect's submission (the DSN pass asks for a processor up front too).
    expect(fallbacks.length, JSON.stringify({ fallbacks, rows })).toBeGreaterThanOrEqual(1);
    await until(async () => (await queued()) === 0, "nothing queued", 30_000, 100);
    expect(receipts(world.sink, "s2-fallback")).toHaveLength(1);
  }, 90_000);

  it(`4. ${SCENARIO4_MESSAGES} messages, local and external, through both frontends while a backend is killed and restarted`, async () => {
    await setMode("fe1", "locally-for-others");
    await start("fe2", "frontend", "locally-for-others");
    await setMode("be1", "locally");
    await setMode("be2", "locally");
    // Some external recipients are refused by the Internet: their messages bounce with a DSN.
    world.onRcpt = (a) => (a.startsWith("refused") ? "reject" : "accept");
    const clients = [smtpClient(proc("fe1").smtpPort), smtpClient(proc("fe2").smtpPort)];
    const expected = { local: 0, external: 0, refused: 0 };
    try {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < SCENARIO4_MESSAGES; i++) {
        const to = [accounts[i % accounts.length]];
        if (i % 2 === 0) to.push(`r${i}@${EXTERNAL}`);
        if (i % 10 === 3) to.push(`refused${i}@${EXTERNAL}`);
        expected.local += 1;
        expected.external += i % 2 === 0 ? 1 : 0;
        expected.refused += i % 10 === 3 ? 1 : 0;
        sends.push(send(clients[i % 2], `s4-${i}`, SENDER, to));
        if (i === Math.floor(SCENARIO4_MESSAGES / 3)) {
          await Promise.all(sends.splice(0));
          await crash(proc("be1"));
        }
        if (i === Math.floor((2 * SCENARIO4_MESSAGES) / 3)) {
          await Promise.all(sends.splice(0));
          await start("be1", "backend", "locally");
        }
      }
      await Promise.all(sends);
    } finally {
      for (const c of clients) c.close();
    }
    // Done with failures but no DSN pass yet would look like "nothing queued": wait for both.
    const unreported = () =>
      count(
        db,
        sql`SELECT count(*)::int AS n FROM messages m WHERE m.done_at IS NOT NULL AND m.dsn_checked_at IS NULL
            AND EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state = 'failed')`,
      );
    await until(async () => (await unreported()) === 0 && (await queued()) === 0, `nothing left queued\n${output()}`, 90_000, 200);

    // Every local recipient stored exactly once.
    expect(await count(db, sql`SELECT count(*)::int AS n FROM mailbox_messages WHERE subject LIKE 's4-%'`)).toBe(expected.local);
    expect(await count(db, sql`SELECT count(DISTINCT subject)::int AS n FROM mailbox_messages WHERE subject LIKE 's4-%'`)).toBe(expected.local);
    // Every external recipient received exactly once by the Internet.
    const s4 = world.sink.messages.filter((m) => m.from === SENDER && m.content.includes("Subject: s4-"));
    const delivered = s4.flatMap((m) => m.to.map((t) => t.address));
    expect(delivered.length).toBe(expected.external);
    expect(new Set(delivered).size).toBe(expected.external);
    // Every refused one bounced: one DSN per message, to the sender, from the null sender.
    const dsns = world.sink.messages.filter((m) => m.from === "" && m.to.some((t) => t.address === SENDER) && m.content.includes("refused"));
    const dsnFor = dsns.map((m) => /Message-ID: <(s4-\d+)@cluster.test>/i.exec(m.content.toString())?.[1] ?? "?");
    const dupes = dsnFor.filter((id, i) => dsnFor.indexOf(id) !== i);
    // Should a DSN arrive twice, say which and how it went through the queue.
    const diag =
      dupes.length > 0
        ? {
            dupes,
            rows: await Promise.all(dupes.map((d) => queueRows(db, d))),
            dsnAttempts: await queryRows(
              db,
              sql`SELECT a.message_id, a.member, a.outcome, a.reply_text FROM attempts a JOIN messages m ON m.id = a.message_id WHERE m.kind = 'dsn' ORDER BY a.id`,
            ),
          }
        : {};
    expect(dsns.length, JSON.stringify(diag)).toBe(expected.refused);
    expect(await count(db, sql`SELECT count(*)::int AS n FROM recipients WHERE state = 'failed' AND address NOT LIKE 'refused%'`)).toBe(0);
  }, 180_000);
});
