import { type Context, Hono, type Next } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { html } from "hono/html";
import { listMembers } from "../../cluster/members.ts";
import { loadSettings } from "../../cluster/settings.ts";
import { queueSummaryByDomain } from "../../queue/admin.ts";
import { loadOverview } from "../../queue/admin-figures.ts";
import { coerceError } from "../../util/errors.ts";
import { bearerToken, refuseIfLocked, sameSecret } from "../shared/auth.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { clientAddress } from "../shared/login-throttle.ts";
import { ApiError, toApiError } from "../shared/errors.ts";
import { aliasRoutes } from "./aliases-routes.ts";
import { destinationRoutes } from "./destinations-routes.ts";
import { directoryRoutes } from "./directory-routes.ts";
import { field } from "./forms.ts";
import { liveRefresh, page } from "./layout.ts";
import { logRoutes } from "./log-routes.ts";
import { memberRoutes } from "./members-routes.ts";
import { queueDepthChart, recentFiguresView } from "./overview-view.ts";
import { loginForm, membersTable, queueSummaryTable } from "./pages.ts";
import { queueRoutes } from "./queue-routes.ts";
import { routeRoutes } from "./routes-routes.ts";
import { ruleRoutes } from "./rules-routes.ts";
import { createSession, endSession, isLiveSession, SESSION_TTL_SECONDS } from "./sessions.ts";
import { settingRoutes } from "./settings-routes.ts";
import { suppressionRoutes } from "./suppressions-routes.ts";

export const WEBADMIN_PREFIX = "/admin";
export const SESSION_COOKIE = "mailcluster_admin";

/**
 * Server-rendered WebAdmin behind the admin token: the login form starts a session (a row in
 * admin_sessions, its secret in the cookie), logout ends it on every member.
 */
export function createWebAdmin(d: AdminDeps): Hono {
  const app = new Hono();
  const throttle = d.throttle;

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
    const session = await createSession(d.db, d.clock.now(), clientAddress(c));
    setCookie(c, SESSION_COOKIE, session.secret, { path: WEBADMIN_PREFIX, httpOnly: true, sameSite: "Strict", maxAge: SESSION_TTL_SECONDS });
    return c.redirect(WEBADMIN_PREFIX, 303);
  });

  app.use("*", async (c: Context, next: Next) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    const bearer = bearerToken(c.req.header("authorization"));
    if (bearer !== null) refuseIfLocked(c, throttle);
    const ok = (bearer !== null && sameSecret(bearer, d.token)) || (cookie !== undefined && (await isLiveSession(d.db, cookie, d.clock.now())));
    if (ok) return next();
    // A wrong bearer token is a guess; a stale cookie (the token changed) is not.
    if (bearer !== null) throttle.fail(clientAddress(c));
    if (c.req.method === "GET") return c.redirect(`${WEBADMIN_PREFIX}/login`, 303);
    throw new ApiError(401, "not logged in");
  });

  app.post("/logout", async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie !== undefined) await endSession(d.db, cookie);
    deleteCookie(c, SESSION_COOKIE, { path: WEBADMIN_PREFIX });
    return c.redirect(`${WEBADMIN_PREFIX}/login`, 303);
  });

  app.get("/", async (c) => {
    const now = d.clock.now();
    const s = await loadSettings(d.db);
    const [members, summary, overview] = await Promise.all([listMembers(d.db, now, s.member_timeout_seconds), queueSummaryByDomain(d.db, now), loadOverview(d.db, now)]);
    const { counts, recent, queueDepth } = overview;
    // Live by default; ?refresh=off holds the page still (reading, copying).
    const live = liveRefresh(c.req.url, true);
    const body = html`<p class="bar muted"><span>queued <b>${counts.queued}</b></span><span>held <b>${counts.held}</b></span>${live.control}</p>
<h2>Queue depth, last hour</h2>${queueDepthChart(queueDepth.samples, now, queueDepth.sampleSeconds)}
${recentFiguresView(recent, now)}<h2>Members</h2>${membersTable(members, now)}<h2>Queue per domain</h2>${queueSummaryTable(summary)}`;
    return c.html(page("Overview", body, { flash: c.req.query("msg"), here: WEBADMIN_PREFIX, refreshSeconds: live.refreshSeconds }));
  });

  memberRoutes(app, d);
  queueRoutes(app, d);
  directoryRoutes(app, d);
  aliasRoutes(app, d);
  routeRoutes(app, d);
  settingRoutes(app, d);
  ruleRoutes(app, d);
  logRoutes(app, d);
  suppressionRoutes(app, d);
  destinationRoutes(app, d);

  return app;
}

export function mountWebAdmin(app: Hono, d: AdminDeps): void {
  app.route(WEBADMIN_PREFIX, createWebAdmin(d));
}
