import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { html } from "hono/html";
import { addAccount, addDomain, listAccounts, listDomains, removeAccount, removeDomain } from "../../accounts/store.ts";
import { listMembers } from "../../cluster/members.ts";
import { loadSettings } from "../../cluster/settings.ts";
import { listStoredMessages, readStoredMessage } from "../../accounts/stored-messages.ts";
import { applyQueueAction, isQueueAction, listQueue, queueSummaryByDomain, type QueueStateFilter, showQueueMessage } from "../../queue/admin.ts";
import { coerceError } from "../../util/errors.ts";
import { bearerToken, refuseIfLocked, sameSecret, sessionValue } from "../admin/auth.ts";
import { type AdminDeps, loginThrottle } from "../admin/deps.ts";
import { clientAddress, LoginThrottle } from "../admin/login-throttle.ts";
import { ApiError, toApiError } from "../admin/errors.ts";
import { newAccountBody, newDomainBody } from "../admin/schemas.ts";
import { formatIssues } from "../admin/validate.ts";
import { page } from "./layout.ts";
import {
  accountsPage,
  domainsPage,
  loginForm,
  membersTable,
  queueFilter,
  queueItemsTable,
  queueMessagePage,
  queueSummaryTable,
  storedMessagesTable,
} from "./pages.ts";

export const WEBADMIN_PREFIX = "/admin";
export const SESSION_COOKIE = "mailcluster_admin";

const STATES: readonly QueueStateFilter[] = ["pending", "queued", "held", "delivered", "failed", "all"];

/** Back to a WebAdmin page with a message; only local paths, so the redirect cannot be abused. */
function back(c: Context, fallback: string, msg: string) {
  const wanted = c.req.query("back");
  const to = wanted && wanted.startsWith("/admin") && !wanted.startsWith("//") ? wanted : fallback;
  return c.redirect(`${to}${to.includes("?") ? "&" : "?"}msg=${encodeURIComponent(msg)}`, 303);
}

function field(form: Record<string, unknown>, name: string): string {
  const v = form[name];
  return typeof v === "string" ? v.trim() : "";
}

/** Server-rendered WebAdmin behind the admin token: a login form sets a session cookie. */
export function createWebAdmin(d: AdminDeps): Hono {
  const app = new Hono();
  const session = sessionValue(d.token);
  const throttle = loginThrottle(d, () => new LoginThrottle(d.clock));

  app.onError((err, c) => {
    const known = toApiError(err);
    if (!known) d.logger.error({ err: coerceError(err), path: c.req.path }, "WebAdmin request failed");
    const status = known?.status ?? 500;
    const detail = known ? [known.message, ...known.issues.slice(1).map((i) => `${i.path}: ${i.message}`)].join("; ") : "internal error";
    return c.html(page("Error", html``, { error: detail }), status);
  });

  // Same-origin form posts only; the SameSite=Strict cookie is the second line.
  app.use("*", csrf());

  app.get("/login", (c) => c.html(page("Log in", loginForm(), { nav: false })));
  app.post("/login", async (c) => {
    refuseIfLocked(c, throttle);
    const token = field(await c.req.parseBody(), "token");
    if (!sameSecret(token, d.token)) {
      throttle.fail(clientAddress(c));
      return c.html(page("Log in", loginForm(), { nav: false, error: "wrong token" }), 401);
    }
    throttle.succeed(clientAddress(c));
    setCookie(c, SESSION_COOKIE, session, { path: WEBADMIN_PREFIX, httpOnly: true, sameSite: "Strict" });
    return c.redirect(WEBADMIN_PREFIX, 303);
  });

  app.use("*", async (c, next) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const bearer = bearerToken(c.req.header("authorization"));
    if (bearer !== null) refuseIfLocked(c, throttle);
    const ok = (cookie !== undefined && sameSecret(cookie, session)) || (bearer !== null && sameSecret(bearer, d.token));
    if (ok) return next();
    // A wrong bearer token is a guess; a stale cookie (the token changed) is not.
    if (bearer !== null) throttle.fail(clientAddress(c));
    if (c.req.method === "GET") return c.redirect(`${WEBADMIN_PREFIX}/login`, 303);
    throw new ApiError(401, "not logged in");
  });

  app.post("/logout", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: WEBADMIN_PREFIX });
    return c.redirect(`${WEBADMIN_PREFIX}/login`, 303);
  });

  app.get("/", async (c) => {
    const now = d.clock.now();
    const s = await loadSettings(d.db);
    const [members, summary] = await Promise.all([listMembers(d.db, now, s.member_timeout_seconds), queueSummaryByDomain(d.db, now)]);
    const body = html`<h2>Members</h2>${membersTable(members, now)}<h2>Queue per domain</h2>${queueSummaryTable(summary)}`;
    return c.html(page("Overview", body, { flash: c.req.query("msg") }));
  });

  app.get("/queue", async (c) => {
    const domain = c.req.query("domain")?.trim() ?? "";
    const wanted = c.req.query("state") ?? "pending";
    const state = STATES.find((s) => s === wanted) ?? "pending";
    const items = await listQueue(d.db, { state, domain: domain || undefined, limit: 500 });
    const here = `/admin/queue?domain=${encodeURIComponent(domain)}&state=${state}`;
    return c.html(page("Queue", html`${queueFilter(domain, state)}${queueItemsTable(items, here)}`, { flash: c.req.query("msg") }));
  });

  app.get("/queue/:id", async (c) => {
    const id = Number(c.req.param("id"));
    if (!Number.isSafeInteger(id) || id <= 0) throw new ApiError(400, `invalid queue id "${c.req.param("id")}"`);
    const detail = await showQueueMessage(d.db, id);
    if (!detail) throw new ApiError(404, `no queue message ${id}`);
    return c.html(page(`Queue message ${id}`, queueMessagePage(detail), { flash: c.req.query("msg") }));
  });

  app.post("/queue/domain/:domain/:action", async (c) => {
    const { domain, action } = c.req.param();
    if (!isQueueAction(action)) throw new ApiError(404, `no queue action "${action}"`);
    const r = await applyQueueAction(d.db, action, { domain }, d.clock.now());
    d.logger.info({ action, domain, ...r, via: "webadmin" }, "queue operation by administrator");
    return back(c, WEBADMIN_PREFIX, `${action} ${domain}: ${r.recipients} recipient(s) of ${r.messages} message(s)`);
  });

  app.post("/queue/:id/:action", async (c) => {
    const { id, action } = c.req.param();
    const messageId = Number(id);
    if (!isQueueAction(action)) throw new ApiError(404, `no queue action "${action}"`);
    if (!Number.isSafeInteger(messageId) || messageId <= 0) throw new ApiError(400, `invalid queue id "${id}"`);
    const r = await applyQueueAction(d.db, action, { messageId }, d.clock.now());
    d.logger.info({ action, messageId, ...r, via: "webadmin" }, "queue operation by administrator");
    return back(c, `${WEBADMIN_PREFIX}/queue`, `${action} ${messageId}: ${r.recipients} recipient(s)`);
  });

  app.get("/domains", async (c) => c.html(page("Domains", domainsPage(await listDomains(d.db)), { flash: c.req.query("msg") })));
  app.post("/domains", async (c) => {
    const parsed = newDomainBody.safeParse({ name: field(await c.req.parseBody(), "name") });
    if (!parsed.success) throw new ApiError(400, `invalid domain: ${parsed.error.issues[0]?.message ?? "?"}`, formatIssues(parsed.error.issues));
    const name = await addDomain(d.db, parsed.data.name);
    return back(c, `${WEBADMIN_PREFIX}/domains`, `added ${name}`);
  });
  app.post("/domains/:name/remove", async (c) => {
    await removeDomain(d.db, c.req.param("name"));
    return back(c, `${WEBADMIN_PREFIX}/domains`, `removed ${c.req.param("name")}`);
  });

  app.get("/accounts", async (c) => c.html(page("Accounts", accountsPage(await listAccounts(d.db)), { flash: c.req.query("msg") })));
  app.post("/accounts", async (c) => {
    const form = await c.req.parseBody();
    const quota = field(form, "quota");
    const parsed = newAccountBody.safeParse({
      address: field(form, "address"),
      password: field(form, "password") || undefined,
      quota: quota === "" ? null : Number(quota),
      home: field(form, "home") || null,
    });
    if (!parsed.success) {
      const issues = formatIssues(parsed.error.issues);
      throw new ApiError(400, `invalid ${issues[0]?.path ?? "form"}: ${issues[0]?.message ?? "?"}`, issues);
    }
    const b = parsed.data;
    const address = await addAccount(d.db, { address: b.address, password: b.password ?? null, quotaBytes: b.quota ?? null, homeMember: b.home ?? null });
    return back(c, `${WEBADMIN_PREFIX}/accounts`, `added ${address}`);
  });
  app.get("/accounts/:address/messages", async (c) => {
    const address = c.req.param("address");
    return c.html(page(`Messages of ${address}`, storedMessagesTable(await listStoredMessages(d.db, address))));
  });
  app.get("/messages/:id/raw", async (c) => {
    const found = await readStoredMessage(d.db, Number(c.req.param("id")));
    if (!found) throw new ApiError(404, `no stored message ${c.req.param("id")}`);
    // Shown as plain text: a stored message is untrusted input and must never render as HTML.
    return c.body(new Uint8Array(found.content), 200, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  });

  app.post("/accounts/:address/remove", async (c) => {
    await removeAccount(d.db, c.req.param("address"));
    return back(c, `${WEBADMIN_PREFIX}/accounts`, `removed ${c.req.param("address")}`);
  });

  return app;
}

export function mountWebAdmin(app: Hono, d: AdminDeps): void {
  app.route(WEBADMIN_PREFIX, createWebAdmin(d));
}
