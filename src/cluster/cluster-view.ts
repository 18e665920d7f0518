import type { SubmitMode } from "../domain/types.ts";
import type { MemberRow } from "./members.ts";

/**
 * What this member believes about the cluster, as of its last heartbeat: its own submit mode
 * (re-read from its members row, so `member mode` takes effect without a restart) and who is
 * alive. Everything here is a snapshot; decisions that must be exact go to the database.
 */
export class ClusterView {
  private mode: SubmitMode;
  private rows: readonly MemberRow[] = [];

  constructor(
    readonly self: string,
    initialMode: SubmitMode,
  ) {
    this.mode = initialMode;
  }

  /** Take a fresh members listing; returns the previous mode when ours changed, else null. */
  update(rows: readonly MemberRow[]): SubmitMode | null {
    this.rows = rows;
    const me = rows.find((r) => r.name === this.self);
    if (!me || me.submitMode === this.mode) return null;
    const previous = this.mode;
    this.mode = me.submitMode;
    return previous;
  }

  get submitMode(): SubmitMode {
    return this.mode;
  }

  /** Live members, this one included once it has beaten. */
  live(): readonly MemberRow[] {
    return this.rows.filter((r) => r.alive);
  }

  /** Live frontends with an SMTP endpoint: the targets of forwarding server "*". */
  liveFrontends(): readonly MemberRow[] {
    return this.live().filter((r) => r.roles.includes("frontend") && r.smtpEndpoint !== null);
  }

  /** Names of live locally-for-others members: the ones serving the shared pool. */
  poolServers(): string[] {
    return this.live()
      .filter((r) => r.submitMode === "locally-for-others")
      .map((r) => r.name);
  }

  /**
   * Whether our worker takes pool messages (processor IS NULL). Locally-for-others members
   * always do; when none is alive every member does, so a message a `remotely` member put in
   * the pool just before the last locally-for-others member died is not stranded.
   */
  includePool(): boolean {
    return this.mode === "locally-for-others" || this.poolServers().length === 0;
  }

  /**
   * Whether we are among the members that adopt a dead member's work: locally-for-others
   * first; only when none is alive, locally members; only when neither, remotely members
   * (their worker runs anyway, for the fallback) — someone always adopts.
   */
  isAdopter(): boolean {
    const modes = new Set(this.live().map((r) => r.submitMode));
    const tier: SubmitMode = modes.has("locally-for-others") ? "locally-for-others" : modes.has("locally") ? "locally" : "remotely";
    return this.mode === tier;
  }
}
