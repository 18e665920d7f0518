import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectRuntime } from "../../../adapters/runtime/index.ts";
import { setSetting } from "../../../src/cluster/settings.ts";
import { loadConfig } from "../../../src/config.ts";
import { date, num, queryRows, str } from "../../../src/db/rows.ts";
import { attempts } from "../../../src/db/schema/index.ts";
import { adminComponent } from "../../../src/http/admin/component.ts";
import { Member } from "../../../src/member.ts";
import { recordQueueDepth } from "../../../src/queue/depth-history.ts";
import { submitMessage } from "../../../src/queue/submit.ts";
import { silentLogger } from "../../../src/util/logger.ts";
import { createTestDatabase, type TestDatabase } from "../../helpers/postgres.ts";
import { until } from "../../helpers/until.ts";

/**
 * The WebAdmin in a real browser (Debian's Chromium, driven by playwright-core) against a real
 * member on real PostgreSQL. Never a downloaded browser; never skipped: without Chromium the
 * suite fails and says what to install.
 */
const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "browser-test-token-0123456789abcdef";
const NAME = "web-1";
/** Set to a directory to keep screenshots of the pages (for a human look). */
const SHOTS = process.env.WEBADMIN_SCREENSHOTS;

let tdb: TestDatabase;
let member: Member;
let browser: Browser;
let base: string;

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const states = async (messageId: number) =>
  (await queryRows(tdb.storage.db, sql`SELECT state FROM recipients WHERE message_id = ${messageId} ORDER BY id`)).map((r) => str(r.state));

async function queued(address: string): Promise<number> {
  const r = await submitMessage(tdb.storage.db, {
    envelope: { sender: "sender@origin.test", recipients: [{ address }] },
    content: new TextEncoder().encode(`Subject: for ${address}\r\nFrom: sender@origin.test\r\n\r\nHello <b>${address}</b>\r\n`),
    submittedBy: NAME,
    processor: NAME,
    now: new Date(),
  });
  return r.messageId;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the WebAdmin browser tests need Debian's chromium package (apt-get install chromium; .ci/run installs it)`);
  }
  tdb = await createTestDatabase();
  // The mode change is picked up with the next heartbeat: make that one second.
  await setSetting(tdb.storage.db, "heartbeat_interval_seconds", 1);
  const config = { ...loadConfig({ ADMIN_TOKEN: TOKEN }, { name: NAME, role: "backend", submit: "locally" }), httpPort: 0 };
  // No worker: what the tests queue stays in the queue for the page to act on.
  member = await Member.start({ config, storage: tdb.open(4), runtime: await detectRuntime(), logger: silentLogger, components: [adminComponent()], runWorker: false });
  base = `http://127.0.0.1:${member.httpPort}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await member?.stop();
  await tdb?.drop();
});

async function loggedIn(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${base}/admin`);
  expect(new URL(page.url()).pathname).toBe("/admin/login");
  await page.fill('input[name="token"]', TOKEN);
  await page.click("button:has-text(\"Log in\")");
  await page.waitForURL(`${base}/admin`);
  return page;
}

describe("WebAdmin in Chromium", () => {
  it("a wrong token stays on the login form with the error", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/admin/login`);
    await page.fill('input[name="token"]', "not-the-token");
    await page.click("button:has-text(\"Log in\")");
    expect(await page.textContent(".error")).toContain("wrong token");
    await page.close();
  }, 60_000);

  it("Queue Processing: switching a member's submit mode, and the member picks it up", async () => {
    const page = await loggedIn();
    await page.click("nav >> text=Members");
    const row = page.locator(`#member-${NAME}`);
    expect(await row.locator("select").inputValue()).toBe("locally");
    await row.locator("select").selectOption("remotely");
    await row.locator("text=Apply").click();
    expect(await page.textContent(".flash")).toContain(`${NAME}: locally → remotely`);
    await until(() => member.ctx.cluster?.submitMode === "remotely", "the member applies its new submit mode");
    await page.reload();
    expect(await page.locator(`#member-${NAME} select`).inputValue()).toBe("remotely");
    await shot(page, "members");
    await page.close();
  }, 60_000);

  it("queue page: hold and release the checked message, delete only after confirming", async () => {
    const first = await queued("one@far.test");
    const second = await queued("two@near.test");
    const page = await loggedIn();
    await page.click("nav >> text=Queue");
    expect(await page.textContent("main")).toContain("1–2 of 2");

    await page.check(`input[name="id"][value="${first}"]`);
    await page.click('button[value="hold"]');
    expect(await page.textContent(".flash")).toContain("hold: 1 recipient(s) of 1 message(s)");
    expect(await states(first)).toEqual(["held"]);
    expect(await states(second)).toEqual(["queued"]);

    await page.check(`input[name="id"][value="${first}"]`);
    await page.click('button[value="release"]');
    expect(await states(first)).toEqual(["queued"]);

    // Filter by recipient, then delete: a confirmation page first; Cancel changes nothing.
    await page.fill('input[name="recipient"]', "two@");
    await page.click("text=Filter");
    expect(await page.textContent("main")).toContain("1–1 of 1");
    await page.check(`input[name="id"][value="${second}"]`);
    await page.click('button[value="delete"]');
    expect(await page.textContent("h1")).toContain("Delete 1 message(s)?");
    await shot(page, "confirm-delete");
    await page.click("text=Cancel");
    expect(await states(second)).toEqual(["queued"]);
    await page.check(`input[name="id"][value="${second}"]`);
    await page.click('button[value="delete"]');
    await page.click("#confirm-yes");
    expect(await page.textContent(".flash")).toContain("delete: 1 recipient(s) of 1 message(s)");
    expect(await states(second)).toEqual([]);
    await page.goto(`${base}/admin/queue`);
    await shot(page, "queue");

    // The message page: envelope, recipients, headers and body as text (escaped, not rendered).
    await page.click(`a[href="/admin/queue/${first}"] >> nth=0`);
    expect(await page.textContent("#headers")).toContain("Subject: for one@far.test");
    expect(await page.textContent("#body")).toContain("Hello <b>one@far.test</b>");
    expect(await page.locator("#body b").count()).toBe(0);
    await shot(page, "message");
    await page.close();
  }, 90_000);

  it("settings: a bad value is refused next to its field, a good one is saved and marked changed", async () => {
    const page = await loggedIn();
    await page.click("nav >> text=Settings");
    const row = page.locator("#setting-retry_initial_seconds");
    await row.locator('input[name="value"]').fill("soon");
    await row.locator("text=Save").click();
    expect(await page.locator("#setting-retry_initial_seconds .error").textContent()).toContain("takes a number");
    await page.locator('#setting-retry_initial_seconds input[name="value"]').fill("120");
    await page.locator("#setting-retry_initial_seconds >> text=Save").click();
    expect(await page.textContent(".flash")).toContain("retry_initial_seconds = 120");
    expect(await page.locator("#setting-retry_initial_seconds").textContent()).toContain("(changed)");
    const [row120] = await queryRows(tdb.storage.db, sql`SELECT value FROM settings WHERE key = 'retry_initial_seconds'`);
    expect(num(row120.value)).toBe(120);
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "settings-phone");
    await page.close();
  }, 60_000);

  it("delivery log: search by recipient and outcome", async () => {
    const id = await queued("log@far.test");
    const [r] = await queryRows(tdb.storage.db, sql`SELECT id FROM recipients WHERE message_id = ${id}`);
    await tdb.storage.db.insert(attempts).values([
      { messageId: id, recipientId: num(r.id), address: "log@far.test", member: NAME, outcome: "deferred", replyCode: 421, enhancedStatus: "4.4.2", replyText: "greeting timeout", remoteHost: "mx.far.test", startedAt: new Date(), durationMs: 30_000 },
      { messageId: id, recipientId: num(r.id), address: "log@far.test", member: NAME, outcome: "delivered", replyCode: 250, enhancedStatus: "2.0.0", replyText: "queued as X1", remoteHost: "mx.far.test", startedAt: new Date(), durationMs: 80 },
    ]);
    const page = await loggedIn();
    await page.click("nav >> text=Delivery log");
    await page.fill('input[name="recipient"]', "log@far");
    await page.selectOption('select[name="outcome"]', "deferred");
    await page.click('button:has-text("Search")');
    const table = await page.textContent("main table");
    expect(table).toContain("greeting timeout");
    expect(table).not.toContain("queued as X1");
    await shot(page, "delivery-log");
    // The overview counts the same attempts in its last-hour figures.
    await page.goto(`${base}/admin?refresh=off`);
    expect(await page.textContent("main")).toContain("greeting timeout");
    await shot(page, "overview");
    await page.close();
  }, 60_000);

  it("delivery log: search by subject and by Message-ID; the message page shows both", async () => {
    const report = (
      await submitMessage(tdb.storage.db, {
        envelope: { sender: "boss@origin.test", recipients: [{ address: "team@far.test" }] },
        content: new TextEncoder().encode("Subject: =?UTF-8?Q?Quartalsbericht_Q3_=E2=80=93_final?=\r\nMessage-ID: <q3-report.77@origin.test>\r\n\r\nnumbers\r\n"),
        submittedBy: NAME,
        processor: NAME,
        now: new Date(),
      })
    ).messageId;
    const other = await queued("noise@far.test");
    const rows = await queryRows(tdb.storage.db, sql`SELECT id, message_id, address FROM recipients WHERE message_id IN (${report}, ${other})`);
    await tdb.storage.db.insert(attempts).values(
      rows.map((r) => ({ messageId: num(r.message_id), recipientId: num(r.id), address: str(r.address), member: NAME, outcome: "deferred", replyCode: 451, enhancedStatus: "4.7.1", replyText: `later ${str(r.address)}`, remoteHost: "mx.far.test", startedAt: new Date(), durationMs: 12 })),
    );
    const page = await loggedIn();
    await page.click("nav >> text=Delivery log");
    await page.fill('input[name="subject"]', "quartalsbericht q3");
    await page.click('button:has-text("Search")');
    let table = await page.textContent("main table");
    expect(table).toContain("Quartalsbericht Q3 – final");
    expect(table).toContain("later team@far.test");
    expect(table).not.toContain("noise@far.test");

    await page.fill('input[name="subject"]', "");
    await page.fill('input[name="messageId"]', "<q3-report.77@origin.test>");
    await page.click('button:has-text("Search")');
    table = await page.textContent("main table");
    expect(table).toContain("later team@far.test");
    expect(table).not.toContain("noise@far.test");
    expect(await page.locator("main table tr").count()).toBe(2);
    expect(table).toContain("<q3-report.77@origin.test>");
    await shot(page, "delivery-log-message-id");

    // A Message-ID that names nothing finds nothing; an overlong one is refused with the field named.
    await page.fill('input[name="messageId"]', "q3-report.77");
    await page.click('button:has-text("Search")');
    expect(await page.textContent("main")).toContain("No attempts match.");
    const long = await page.goto(`${base}/admin/log?subject=${"x".repeat(999)}`);
    expect(long?.status()).toBe(400);
    expect(await page.textContent(".error")).toContain("subject:");

    await page.goto(`${base}/admin/log?messageId=q3-report.77%40origin.test`);
    await page.click(`main table a[href="/admin/queue/${report}"]`);
    expect(await page.textContent("#subject")).toBe("Quartalsbericht Q3 – final");
    expect(await page.textContent("#message-id")).toBe("<q3-report.77@origin.test>");
    await page.close();
  }, 60_000);

  it("overview: the queue depth chart draws the samples the member takes", async () => {
    // The member samples once at start (it is the only one, so it exports the cluster figures).
    let taken: Array<Record<string, unknown>> = [];
    await until(async () => {
      taken = await queryRows(tdb.storage.db, sql`SELECT sampled_at, queued FROM queue_depth_samples WHERE sampled_by = ${NAME}`);
      return taken.length > 0;
    }, "the member records a queue depth sample");
    // Earlier minutes, as a member running for a while would have recorded them.
    const slot = date(taken[0].sampled_at).getTime();
    for (let i = 1; i <= 5; i++) await recordQueueDepth(tdb.storage.db, new Date(slot - i * 60_000), "earlier", { queued: i, deferred: 10 - i, held: 1 });
    const page = await loggedIn();
    await page.goto(`${base}/admin?refresh=off`);
    const chart = page.locator('svg[aria-label^="queue depth per state"]');
    expect(Number(await chart.getAttribute("data-samples"))).toBeGreaterThanOrEqual(6);
    for (const state of ["queued", "deferred", "held"]) {
      const d = (await chart.locator(`path[data-state="${state}"]`).getAttribute("d")) ?? "";
      // Six points or more on one unbroken line: one move, the rest line segments.
      expect((d.match(/L/g) ?? []).length).toBeGreaterThanOrEqual(6);
      expect(await chart.locator(`path[data-state="${state}"]`).isVisible()).toBe(true);
    }
    // Live by default: the page asks the browser to reload it.
    await page.goto(`${base}/admin`);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute("content")).toBe("15");
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await page.locator('svg[aria-label^="queue depth per state"]').boundingBox();
    expect(box && box.width <= 390).toBe(true);
    // Wide tables (members, queue per domain) scroll in their own box: the page itself does not.
    expect(Number(await page.evaluate("document.documentElement.scrollWidth"))).toBeLessThanOrEqual(390);
    await shot(page, "overview-phone");
    await page.close();
  }, 60_000);

  it("log out: the old session cookie is refused afterwards", async () => {
    const page = await loggedIn();
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === "mailcluster_admin");
    expect(cookie).toBeDefined();
    await page.click("text=Log out");
    await page.waitForURL(`${base}/admin/login`);
    // Put the old cookie back, as a thief who copied it would: it no longer opens anything.
    await page.context().addCookies([cookie]);
    await page.goto(`${base}/admin/members`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
    const res = await fetch(`${base}/admin`, { headers: { cookie: `${cookie.name}=${cookie.value}` }, redirect: "manual" });
    expect(res.status).toBe(303);
    await page.close();
  }, 60_000);
});
