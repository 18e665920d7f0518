import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of processes from /proc (Linux only): utime+stime of a process, and cutime+cstime,
 * the CPU of its children that have exited and been waited for. Summing a live process tree
 * with its reaped children's time counts every process of a system exactly once.
 */
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime, seconds: children this process has reaped. */
  reaped: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name (field 2) may contain spaces and parentheses: split after its last ")".
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  const t = (i: number) => Number(f[i - 3]) / TICKS_PER_SECOND;
  return { pid, ppid: Number(f[1]), own: t(14) + t(15), reaped: t(16) + t(17) };
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

export function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** CPU seconds used so far by `root`, every live descendant, and every child any of them reaped. */
export function treeSeconds(root: number): number {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const top = stats.find((s) => s.pid === root);
  if (!top) return NaN;
  let total = 0;
  const pending = [top];
  for (let s = pending.pop(); s; s = pending.pop()) {
    total += s.own + s.reaped;
    pending.push(...(children.get(s.pid) ?? []));
  }
  return total;
}

/** The PostgreSQL postmaster that forked backend `pid` (its parent). */
export function parentOf(pid: number): number {
  return readStat(pid)?.ppid ?? NaN;
}

const AUXILIARY = /: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver|stats collector|walsender)\b/;

/**
 * CPU of the PostgreSQL processes that serve one database: the backends (and autovacuum
 * workers) whose title names it, sampled while they run, since a backend that exits is reaped by
 * the postmaster and its time can no longer be told apart. `exclude` leaves out the benchmark's
 * own connection. The server's shared processes (WAL writer, checkpointer, …, and the postmaster
 * itself) serve every database; they are measured separately.
 */
export class PostgresCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private sharedStart = 0;
  private sharedEnd = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: string,
    private readonly postmaster: number,
    private readonly exclude: Set<number>,
  ) {}

  start(everyMs = 200): void {
    this.sample(true);
    this.sharedStart = this.sharedSeconds();
    this.timer = setInterval(() => this.sample(false), everyMs);
  }

  stop(): { backends: number; shared: number } {
    clearInterval(this.timer);
    this.sample(false);
    this.sharedEnd = this.sharedSeconds();
    let backends = 0;
    for (const [pid, seconds] of this.last) backends += seconds - (this.first.get(pid) ?? 0);
    return { backends, shared: this.sharedEnd - this.sharedStart };
  }

  private sample(initial: boolean): void {
    const needle = ` ${this.database} `;
    for (const s of allStats()) {
      if (s.ppid !== this.postmaster || this.exclude.has(s.pid)) continue;
      if (!`${cmdline(s.pid)} `.includes(needle)) continue;
      if (initial) this.first.set(s.pid, s.own);
      this.last.set(s.pid, s.own);
    }
  }

  private sharedSeconds(): number {
    let total = readStat(this.postmaster)?.own ?? 0;
    for (const s of allStats()) if (s.ppid === this.postmaster && AUXILIARY.test(cmdline(s.pid))) total += s.own;
    return total;
  }
}
