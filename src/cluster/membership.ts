import type { Clock, SubmitMode } from "../domain/types.ts";
import type { Db } from "../db/db.ts";
import type { Logger } from "../util/logger.ts";
import { coerceError } from "../util/errors.ts";
import { announceMembers, deregisterMember, heartbeatMember, type MemberInfo, registerMember } from "./members.ts";

export interface MembershipOptions {
  db: Db;
  /** A connection of the heartbeat's own (Storage.heartbeatDb), so a saturated pool cannot starve it. */
  heartbeatDb?: Db;
  info: MemberInfo;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** A beat not done within this is given up (logged) so the next one starts; default intervalMs. */
  beatTimeoutMs?: number;
  /** Runs after each successful heartbeat (the cluster view re-reads the members table). */
  onBeat?: () => Promise<void>;
  /** The mode in force now (it may have changed at run time), for re-registering a removed row. */
  submitMode?: () => SubmitMode;
}

/**
 * Keeps this process's row in `members` fresh; a missed beat is logged, never fatal. Each beat
 * is bounded: one stuck on a dead connection is abandoned after beatTimeoutMs so that the next
 * interval beats again, instead of every later beat waiting behind it (`beating` is shared).
 */
export class Membership {
  private timer: ReturnType<typeof setInterval> | null = null;
  private beating: Promise<void> | null = null;

  constructor(private readonly o: MembershipOptions) {}

  get name(): string {
    return this.o.info.name;
  }

  async start(): Promise<void> {
    await registerMember(this.o.db, this.o.info, this.o.clock.now());
    this.o.logger.info({ member: this.o.info.name, roles: this.o.info.roles, submitMode: this.o.info.submitMode }, "member registered");
    await this.announce();
    this.timer = setInterval(() => void this.beat(), this.o.intervalMs);
    this.timer.unref?.();
  }

  async beat(): Promise<void> {
    if (this.beating) return this.beating;
    const db = this.o.heartbeatDb ?? this.o.db;
    const once = async () => {
      const present = await heartbeatMember(db, this.o.info.name, this.o.clock.now());
      if (!present) {
        await registerMember(db, { ...this.o.info, submitMode: this.o.submitMode?.() ?? this.o.info.submitMode }, this.o.clock.now());
        await this.announce();
      }
      await this.o.onBeat?.();
    };
    this.beating = (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const limit = this.o.beatTimeoutMs ?? this.o.intervalMs;
        await Promise.race([
          once(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`heartbeat took longer than ${limit} ms`)), limit);
          }),
        ]);
      } catch (err) {
        this.o.logger.warn({ err: coerceError(err).message }, "heartbeat failed; will retry");
      } finally {
        clearTimeout(timer);
        this.beating = null;
      }
    })();
    return this.beating;
  }

  /** The others learn of a join or a leave now, not at their next heartbeat; polling covers a lost one. */
  private async announce(): Promise<void> {
    await announceMembers(this.o.db, this.o.info.name).catch((err: unknown) => {
      this.o.logger.warn({ err: coerceError(err).message }, "could not announce the membership change");
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    try {
      await deregisterMember(this.o.db, this.o.info.name);
      this.o.logger.info({ member: this.o.info.name }, "member deregistered");
      await this.announce();
    } catch (err) {
      this.o.logger.warn({ err: coerceError(err).message }, "could not deregister");
    }
  }
}
