import type { SelfTime } from "./cpuprofile.ts";
import { LAYOUT_NAMES } from "./mailcluster.ts";
import type { RunResult } from "./systems.ts";

const ALL = LAYOUT_NAMES.all;
const SPLIT = LAYOUT_NAMES.split;
const REMOTE = LAYOUT_NAMES.remote;
const MAILDIR = "Postfix → Maildir";
const DISCARD = "Postfix → discard";

const round2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : Math.round(x * 100) / 100);

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** a/b for each round both ran in (same run, neighbouring in time), then the median. */
function ratio(results: RunResult[], a: string, b: string, figure: (r: RunResult) => number): { perRound: number[]; median: number } {
  const perRound: number[] = [];
  for (const ra of results.filter((r) => r.system === a)) {
    const rb = results.find((r) => r.system === b && r.round === ra.round);
    if (rb) perRound.push(figure(ra) / figure(rb));
  }
  return { perRound, median: median(perRound) };
}

export function printResults(results: RunResult[], counted: RunResult | undefined): void {
  console.log("\nRuns (CPU: ms per message; mailcluster = members + PostgreSQL backends of its database + PostgreSQL's shared processes)");
  console.table(
    [...results, ...(counted ? [counted] : [])].map((r) => ({
      system: r.round === 0 ? `${r.system} (log_statement=all)` : r.system,
      round: r.round === 0 ? "count" : r.round,
      "accepted msg/s": Math.round(r.acceptedPerSec),
      "end-to-end msg/s": Math.round(r.endToEndPerSec),
      "CPU ms/msg": round2(r.cpuMs.total),
      members: round2(r.cpuMs.members),
      "pg backends": round2(r.cpuMs["pg backends"]),
      "pg shared": round2(r.cpuMs["pg shared"]),
      "xact/msg": round2(r.xactPerMsg),
      "statements/msg": round2(r.statementsPerMsg),
    })),
  );

  const systems = [ALL, SPLIT, REMOTE, MAILDIR, DISCARD].filter((s) => results.some((r) => r.system === s));
  console.log("Medians over the rounds");
  console.table(
    systems.map((s) => {
      const rs = results.filter((r) => r.system === s);
      return {
        system: s,
        "accepted msg/s": Math.round(median(rs.map((r) => r.acceptedPerSec))),
        "end-to-end msg/s": s === DISCARD ? "(queue empty) " + Math.round(median(rs.map((r) => r.endToEndPerSec))) : Math.round(median(rs.map((r) => r.endToEndPerSec))),
        "CPU ms/msg": round2(median(rs.map((r) => r.cpuMs.total))),
        "xact/msg": round2(median(rs.map((r) => r.xactPerMsg ?? NaN))),
      };
    }),
  );

  const rows: Array<{ figure: string; value: string | number; "per round": string; target: string; met: string }> = [];
  const add = (figure: string, value: number, perRound: number[], target: string, met: boolean) =>
    rows.push({ figure, value: round2(value), "per round": perRound.map((x) => round2(x)).join(" "), target, met: !target ? "" : Number.isFinite(value) ? (met ? "yes" : "NO") : "—" });
  if (counted?.statementsPerMsg !== undefined) add("statements per message, ingest to stored (--role all)", counted.statementsPerMsg, [], "≤ 4", counted.statementsPerMsg <= 4);
  if (counted?.xactPerMsg !== undefined) add("transactions per message (xact_commit, counted run)", counted.xactPerMsg, [], "", true);
  const e2e = ratio(results, ALL, MAILDIR, (r) => r.endToEndPerSec);
  add("end to end, --role all / Postfix → Maildir", e2e.median, e2e.perRound, "≥ 1.5", e2e.median >= 1.5);
  const acc = ratio(results, ALL, DISCARD, (r) => r.acceptedPerSec);
  add("accepted, --role all / Postfix → discard", acc.median, acc.perRound, "≥ 2", acc.median >= 2);
  const split = ratio(results, SPLIT, ALL, (r) => r.endToEndPerSec);
  add("end to end, frontend + backend / --role all", split.median, split.perRound, "≥ 0.8", split.median >= 0.8);
  const remote = ratio(results, REMOTE, ALL, (r) => r.endToEndPerSec);
  add("end to end, frontend remotely + backend locally-for-others / --role all", remote.median, remote.perRound, "≥ 0.8", remote.median >= 0.8);
  const cpu = ratio(results, ALL, MAILDIR, (r) => r.cpuMs.total);
  add("CPU per message, mailcluster + PostgreSQL / Postfix → Maildir", cpu.median, cpu.perRound, "≤ 1", cpu.median <= 1);
  console.log("Issue 9 targets (ratios: median of the per-round ratios)");
  console.table(rows);
}

export function printProfile(role: string, top: SelfTime[]): void {
  console.log(`\nTop ${top.length} self time, --role ${role} member(s) (% of busy time, idle excluded)`);
  console.table(top.map((t) => ({ function: t.fn, where: t.where, "self ms": t.ms, "%": t.percent })));
}
