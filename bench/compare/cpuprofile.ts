import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

/** The parts of V8's .cpuprofile (what `node --cpu-prof` writes) that self time needs. */
interface CpuProfile {
  /** Microseconds on the monotonic clock (the one process.hrtime reads). */
  startTime: number;
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  /** Microseconds before each sample. */
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  /** Share of the busy (not idle) time. */
  percent: number;
}

/** [from, to] in microseconds of process.hrtime's clock. */
export type Window = [number, number];

/** Now on the clock of a .cpuprofile's timestamps. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function over every .cpuprofile in `dir`, busiest first, counting only samples
 * taken inside `windows` (the load, not the start-up's module loading and compiling). The
 * profiles' timestamps and process.hrtime read the same monotonic clock.
 */
export function topSelfTime(dir: string, windows: readonly Window[], limit = 15): SelfTime[] {
  const byKey = new Map<string, { fn: string; where: string; us: number }>();
  let busy = 0;
  const inWindow = (t: number) => windows.some(([from, to]) => t >= from && t <= to);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      at += us;
      const frame = frames.get(id);
      if (!frame || frame.functionName === "(idle)" || !inWindow(at)) return;
      const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : "";
      const key = `${frame.functionName}\0${where}`;
      const entry = byKey.get(key) ?? { fn: frame.functionName || "(anonymous)", where, us: 0 };
      entry.us += us;
      byKey.set(key, entry);
      busy += us;
    });
  }
  return [...byKey.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 1000), percent: Math.round((1000 * e.us) / busy) / 10 }));
}

/** Keeps the package or project-relative part of a file URL, which is what tells functions apart. */
function shortUrl(url: string): string {
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length);
  const project = url.search(/\/(src|adapters|bin)\//);
  if (project >= 0) return url.slice(project + 1);
  return url.startsWith("node:") ? url : basename(url);
}
