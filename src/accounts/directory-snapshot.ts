import { sql } from "drizzle-orm";
import type { Db, Executor } from "../db/db.ts";
import { num, numOrNull, queryRows, str, strOrNull } from "../db/rows.ts";

/** An account as the directory holds it. Rules are the stored JSON, not validated here. */
export interface DirectoryAccount {
  readonly address: string;
  readonly domain: string;
  readonly enabled: boolean;
  readonly homeMember: string | null;
  readonly quotaBytes: number | null;
  /** accounts.rules as stored (null = none). */
  readonly rules: unknown;
  /** domains.rules of the account's domain as stored (null = none); the same object for every account of the domain. */
  readonly domainRules: unknown;
}

export interface DirectoryDomain {
  readonly name: string;
  readonly catchAll: string | null;
  readonly rules: unknown;
}

/** Everything the directory answers from, as of one version. Never mutated once built. */
export interface DirectorySnapshot {
  readonly version: number;
  readonly domains: ReadonlyMap<string, DirectoryDomain>;
  readonly accounts: ReadonlyMap<string, DirectoryAccount>;
  readonly aliases: ReadonlyMap<string, readonly string[]>;
}

export const EMPTY_SNAPSHOT: DirectorySnapshot = { version: -1, domains: new Map(), accounts: new Map(), aliases: new Map() };

export async function readDirectoryVersion(db: Executor): Promise<number> {
  const [row] = await queryRows(db, sql`SELECT version FROM directory_version`);
  return row ? num(row.version) : 0;
}

/**
 * The whole directory in one read-only REPEATABLE READ transaction, so domains, accounts and
 * aliases belong together and the version read with them is exactly theirs.
 */
export async function loadDirectorySnapshot(db: Db): Promise<DirectorySnapshot> {
  return db.transaction(
    async (tx) => {
      const version = await readDirectoryVersion(tx);
      const domainRows = await queryRows(tx, sql`SELECT name, catch_all, rules FROM domains`);
      const accountRows = await queryRows(tx, sql`SELECT address, domain, enabled, home_member, quota_bytes, rules FROM accounts`);
      const aliasRows = await queryRows(tx, sql`SELECT address, targets FROM aliases`);
      const domains = new Map<string, DirectoryDomain>();
      for (const r of domainRows) {
        const name = str(r.name);
        domains.set(name, { name, catchAll: strOrNull(r.catch_all), rules: r.rules ?? null });
      }
      const accounts = new Map<string, DirectoryAccount>();
      for (const r of accountRows) {
        const d = domains.get(str(r.domain));
        const address = str(r.address);
        accounts.set(address, {
          address,
          // The domain's own string and rules object: one copy per domain, not per account.
          domain: d?.name ?? str(r.domain),
          enabled: r.enabled === true,
          homeMember: strOrNull(r.home_member),
          quotaBytes: numOrNull(r.quota_bytes),
          rules: r.rules ?? null,
          domainRules: d?.rules ?? null,
        });
      }
      const aliases = new Map<string, readonly string[]>();
      for (const r of aliasRows) aliases.set(str(r.address), str(r.targets).split(",").filter(Boolean));
      return { version, domains, accounts, aliases };
    },
    { isolationLevel: "repeatable read", accessMode: "read only" },
  );
}
