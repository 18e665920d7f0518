import type { Command } from "commander";
import type { Executor } from "../../db/db.ts";
import type { DkimKeyGenerator } from "../../dkim/keys.ts";
import { type DkimKeyInfo, generateDkimKey, listDkimKeys, removeDkimKey, setDkimKeyActive } from "../../dkim/store.ts";
import { keyView } from "../../dkim/view.ts";
import { withDatabase } from "../context.ts";
import { type Out, printResult, printRows } from "../output-admin.ts";

export interface DkimGenerateOptions {
  selector?: string;
  algorithm?: string;
  inactive?: boolean;
  json?: boolean;
}

function published(k: DkimKeyInfo): string {
  return `publish this DNS record:\n${k.dns.zoneLine}`;
}

/** Prints the DNS record to publish; the private key stays in the database. */
export async function dkimGenerate(db: Executor, domain: string, o: DkimGenerateOptions, out?: Out, generator?: DkimKeyGenerator): Promise<void> {
  const k = await generateDkimKey(db, { domain, selector: o.selector, algorithm: o.algorithm, active: !o.inactive, now: new Date(), generator });
  const state = k.active ? "signing now" : "inactive: `dkim activate` once the record is published";
  printResult(keyView(k), `DKIM key ${k.selector} (${k.algorithm}) for ${k.domain}, ${state}; ${published(k)}`, Boolean(o.json), out);
}

export async function dkimList(db: Executor, domain: string | undefined, json: boolean, out?: Out): Promise<void> {
  const keys = await listDkimKeys(db, domain);
  if (json) {
    printResult(keys.map(keyView), "", true, out);
    return;
  }
  printRows(
    keys.map((k) => ({ domain: k.domain, selector: k.selector, algorithm: k.algorithm, active: k.active ? "yes" : "no", created: k.createdAt, dns: k.dns.zoneLine })),
    ["domain", "selector", "algorithm", "active", "created", "dns"],
    false,
    out,
  );
}

export async function dkimRemove(db: Executor, domain: string, selector: string, json: boolean, out?: Out): Promise<void> {
  await removeDkimKey(db, domain, selector);
  const removed = { domain: domain.toLowerCase(), selector: selector.toLowerCase() };
  printResult({ removed }, `DKIM key ${removed.selector} of ${removed.domain} removed (remove its DNS record once mail signed with it has been delivered)`, json, out);
}

export async function dkimSetActive(db: Executor, domain: string, selector: string, active: boolean, json: boolean, out?: Out): Promise<void> {
  const k = await setDkimKeyActive(db, domain, selector, active);
  printResult(keyView(k), `DKIM key ${k.selector} of ${k.domain} ${active ? "signs" : "no longer signs"} (every member within 30 s)`, json, out);
}

export function registerDkim(program: Command): void {
  const cmd = program.command("dkim").description("DKIM signing keys per local domain (private keys are never printed)");
  cmd
    .command("generate <domain>")
    .description("make a key and print the DNS TXT record to publish")
    .option("--selector <s>", "selector (default mcYYYYMM)")
    .option("--algorithm <a>", "rsa (RSA-2048, default) or ed25519")
    .option("--inactive", "do not sign with it yet (publish the record first)")
    .option("--json", "print JSON")
    .action((domain: string, o: DkimGenerateOptions) => withDatabase({}, (s) => dkimGenerate(s.db, domain, o)));
  cmd
    .command("list [domain]")
    .option("--json", "print JSON")
    .action((domain: string | undefined, o: { json?: boolean }) => withDatabase({}, (s) => dkimList(s.db, domain, Boolean(o.json))));
  cmd
    .command("remove <domain> <selector>")
    .option("--json", "print JSON")
    .action((domain: string, selector: string, o: { json?: boolean }) => withDatabase({}, (s) => dkimRemove(s.db, domain, selector, Boolean(o.json))));
  for (const [name, active] of [["activate", true], ["deactivate", false]] as const) {
    cmd
      .command(`${name} <domain> <selector>`)
      .option("--json", "print JSON")
      .action((domain: string, selector: string, o: { json?: boolean }) => withDatabase({}, (s) => dkimSetActive(s.db, domain, selector, active, Boolean(o.json))));
  }
}
