import type { Hono } from "hono";
import { addAccount, addDomain, listAccounts, listDomains, removeAccount, removeDomain } from "../../accounts/store.ts";
import { listStoredMessages, readStoredMessage } from "../../accounts/stored-messages.ts";
import type { AdminDeps } from "../shared/deps.ts";
import { ApiError } from "../shared/errors.ts";
import { newAccountBody, newDomainBody } from "../shared/schemas.ts";
import { formatIssues } from "../shared/validate.ts";
import { confirmationPage, isConfirmed } from "./confirm.ts";
import { back, field, parseForm } from "./forms.ts";
import { page } from "./layout.ts";
import { accountsPage, domainsPage, storedMessagesTable } from "./pages.ts";

/** Domains and accounts; removing either deletes stored mail, so both ask first. */
export function directoryRoutes(app: Hono, d: AdminDeps): void {
  app.get("/domains", async (c) => c.html(page("Domains", domainsPage(await listDomains(d.db)), { flash: c.req.query("msg"), here: "/admin/domains" })));
  app.post("/domains", async (c) => {
    const parsed = newDomainBody.safeParse({ name: field(await parseForm(c), "name") });
    if (!parsed.success) throw new ApiError(400, `invalid domain: ${parsed.error.issues[0]?.message ?? "?"}`, formatIssues(parsed.error.issues));
    const name = await addDomain(d.db, parsed.data.name);
    return back(c, "/admin/domains", `added ${name}`);
  });
  app.post("/domains/:name/remove", async (c) => {
    const name = c.req.param("name");
    const form = await parseForm(c);
    if (!isConfirmed(form)) {
      const accounts = await listAccounts(d.db, name.toLowerCase());
      return confirmationPage(c, form, {
        title: `Remove the domain ${name}?`,
        question: `${name} stops being local: mail to it is relayed or refused from now on.`,
        consequence: `Its ${accounts.length} account(s), their aliases and ALL their stored mail are deleted. This cannot be undone.`,
        yes: `Yes, remove ${name} and its mail`,
        cancel: "/admin/domains",
      });
    }
    await removeDomain(d.db, name);
    d.logger.info({ domain: name, via: "webadmin" }, "domain removed by administrator");
    return back(c, "/admin/domains", `removed ${name}`);
  });

  app.get("/accounts", async (c) => c.html(page("Accounts", accountsPage(await listAccounts(d.db)), { flash: c.req.query("msg"), here: "/admin/accounts" })));
  app.post("/accounts", async (c) => {
    const form = await parseForm(c);
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
    return back(c, "/admin/accounts", `added ${address}`);
  });
  app.get("/accounts/:address/messages", async (c) => {
    const address = c.req.param("address");
    return c.html(page(`Messages of ${address}`, storedMessagesTable(await listStoredMessages(d.db, address)), { here: "/admin/accounts" }));
  });
  app.get("/messages/:id/raw", async (c) => {
    const found = await readStoredMessage(d.db, Number(c.req.param("id")));
    if (!found) throw new ApiError(404, `no stored message ${c.req.param("id")}`);
    // Shown as plain text: a stored message is untrusted input and must never render as HTML.
    return c.body(new Uint8Array(found.content), 200, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  });
  app.post("/accounts/:address/remove", async (c) => {
    const address = c.req.param("address");
    const form = await parseForm(c);
    if (!isConfirmed(form)) {
      return confirmationPage(c, form, { title: `Remove the account ${address}?`, question: `Mail to ${address} is refused from now on.`, consequence: "All its stored mail is deleted. This cannot be undone.", yes: `Yes, remove ${address}`, cancel: "/admin/accounts" });
    }
    await removeAccount(d.db, address);
    return back(c, "/admin/accounts", `removed ${address}`);
  });
}
