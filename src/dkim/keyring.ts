import { createPrivateKey } from "node:crypto";
import type { Executor } from "../db/db.ts";
import type { Clock } from "../domain/types.ts";
import { coerceError } from "../util/errors.ts";
import type { Logger } from "../util/logger.ts";
import { type DkimSigningKey, loadSigningKeys } from "./store.ts";

/**
 * The backstop: a key added or removed on any member signs (or stops) within this long
 * everywhere even when no notification arrives (a storage that cannot notify, a lost one).
 */
export const KEYRING_REFRESH_MS = 30_000;

/** NOTIFY channel the dkim_keys trigger announces changes on (drizzle/0015_dkim_keys_notify.sql). */
export const DKIM_KEYS_CHANNEL = "mailcluster_dkim_keys";

export interface DkimKeyringStartOptions {
  /** Subscribe to DKIM_KEYS_CHANNEL (storage.listen), as the directory does; omit where the storage cannot notify. */
  listen?: (channel: string, onNotify: (payload: string) => void) => Promise<() => Promise<void>>;
}

export interface DkimKeyringOptions {
  /** Reads the active keys; `via` is the caller's open transaction, if it has one (PGlite has one connection). */
  load: (via?: Executor) => Promise<DkimSigningKey[]>;
  /** Milliseconds since the epoch (the injected clock). */
  now: () => number;
  refreshMs?: number;
  onError?: (err: Error) => void;
}

/**
 * The active signing keys in memory, so signing costs no query per message: loaded on first
 * use, reloaded in the background once older than refreshMs (messages meanwhile use the keys
 * they have). Per domain, the newest active key of each algorithm signs: one RSA and one
 * Ed25519 signature when both exist (RFC 8463 §4: verifiers without Ed25519 still see RSA).
 *
 * Freshness, as the directory's (src/accounts/directory.ts): a statement trigger on dkim_keys
 * NOTIFYs in the same transaction as every change, and a started keyring reloads when the
 * notification arrives (a few milliseconds after the COMMIT); the reload after refreshMs is
 * the backstop.
 */
export class DkimKeyring {
  private byDomain: Map<string, DkimSigningKey[]> | null = null;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;
  /** A change was announced while a reload was running (it may have read before the COMMIT): reload once more. */
  private changedMeanwhile = false;
  private unlisten: (() => Promise<void>) | null = null;

  constructor(private readonly o: DkimKeyringOptions) {}

  /** Follows changes by NOTIFY (when given); without it, the reload after refreshMs alone. */
  async start(options: DkimKeyringStartOptions = {}): Promise<void> {
    if (options.listen && !this.unlisten) this.unlisten = await options.listen(DKIM_KEYS_CHANNEL, () => this.changed());
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = null;
    await unlisten?.().catch(() => {});
  }

  /** The keys signing for `domain`; with `parents`, the closest parent domain that has keys ("mx1.example.org" → "example.org"). */
  async keysFor(domain: string, o: { parents?: boolean; via?: Executor } = {}): Promise<readonly DkimSigningKey[]> {
    const keys = await this.current(o.via);
    if (keys.size === 0) return [];
    let d = domain.toLowerCase().replace(/\.$/, "");
    for (;;) {
      const found = keys.get(d);
      if (found) return found;
      const dot = d.indexOf(".");
      // Stop before a bare TLD: "org" never signs.
      if (!o.parents || dot < 0 || d.indexOf(".", dot + 1) < 0) return [];
      d = d.slice(dot + 1);
    }
  }

  /** Reload now (after a change made on this member, and in tests). */
  async refresh(via?: Executor): Promise<void> {
    const rows = await this.o.load(via);
    const map = new Map<string, DkimSigningKey[]>();
    for (const k of rows) {
      const list = map.get(k.domain) ?? [];
      // Rows come newest first per domain: keep the first of each algorithm.
      if (!list.some((x) => x.algorithm === k.algorithm)) list.push(parse(k));
      map.set(k.domain, list);
    }
    this.byDomain = map;
    this.loadedAt = this.o.now();
  }

  private async current(via?: Executor): Promise<Map<string, DkimSigningKey[]>> {
    if (!this.byDomain) {
      await this.reload(via);
      return this.byDomain ?? new Map();
    }
    if (this.o.now() - this.loadedAt >= (this.o.refreshMs ?? KEYRING_REFRESH_MS)) void this.reload();
    return this.byDomain;
  }

  /** A change was announced: reload behind the messages being signed (nothing loaded yet: the first use loads). */
  private changed(): void {
    if (this.loading) this.changedMeanwhile = true;
    else if (this.byDomain) void this.reload();
  }

  private reload(via?: Executor): Promise<void> {
    this.loading ??= this.refresh(via)
      .catch((err: unknown) => {
        // Keep signing with what we had; try again at the next message after a full interval.
        this.loadedAt = this.o.now();
        this.o.onError?.(coerceError(err));
      })
      .finally(() => {
        this.loading = null;
        if (this.changedMeanwhile) {
          this.changedMeanwhile = false;
          void this.reload();
        }
      });
    return this.loading;
  }
}

/** A key whose PEM does not parse still goes to the signer, which reports it per message (logged, unsigned). */
function parse(k: DkimSigningKey): DkimSigningKey {
  try {
    return { ...k, parsed: createPrivateKey(k.privateKey) };
  } catch {
    return k;
  }
}

export interface MemberKeyringOptions {
  db: Executor;
  clock: Clock;
  logger: Logger;
}

/**
 * The member's keyring (ctx.dkimKeys), as Member builds it: keys from the member's database,
 * age by its clock, a failed reload logged. Member starts it (NOTIFY) and stops it.
 */
export function memberKeyring(o: MemberKeyringOptions): DkimKeyring {
  return new DkimKeyring({
    load: (via) => loadSigningKeys(via ?? o.db),
    now: () => o.clock.now().getTime(),
    onError: (err) => o.logger.warn({ err: err.message }, "DKIM keys could not be loaded; signing with the keys loaded before"),
  });
}
