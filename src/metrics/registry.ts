/**
 * A small Prometheus-text registry: counters, gauges and histograms with labels. Enough for our
 * figures without pulling a client library that assumes Node's process APIs (src/ also runs on
 * Bun and Deno).
 */
export type Labels = Record<string, string>;

interface Sample {
  labels: Labels;
  value: number;
}

interface HistogramSample {
  labels: Labels;
  /** Per bucket (not cumulative); the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

type Series =
  | { help: string; type: "counter" | "gauge"; values: Map<string, Sample> }
  | { help: string; type: "histogram"; buckets: readonly number[]; values: Map<string, HistogramSample> };

export class Metrics {
  private readonly series = new Map<string, Series>();

  private scalar(name: string, help: string, type: "counter" | "gauge"): Map<string, Sample> {
    const s = this.series.get(name);
    if (s && s.type !== "histogram") return s.values;
    if (s) throw new Error(`metric ${name} is a histogram, not a ${type}`);
    const values = new Map<string, Sample>();
    this.series.set(name, { help, type, values });
    return values;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const values = this.scalar(name, help, "counter");
    const key = labelKey(labels);
    const cur = values.get(key);
    if (cur) cur.value += by;
    else values.set(key, { labels, value: by });
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    this.scalar(name, help, "gauge").set(labelKey(labels), { labels, value });
  }

  /**
   * Replace every series of a gauge at once: label sets that are no longer given disappear
   * (a domain whose queue emptied, or a member that stopped exporting cluster figures).
   */
  replace(name: string, help: string, samples: readonly Sample[]): void {
    const values = this.scalar(name, help, "gauge");
    values.clear();
    for (const s of samples) values.set(labelKey(s.labels), { labels: s.labels, value: s.value });
  }

  /** Drop a metric entirely (it is not rendered until it is set again). */
  remove(name: string): void {
    this.series.delete(name);
  }

  /** One observation; `buckets` are upper bounds in ascending order, fixed by the first call. */
  observe(name: string, help: string, labels: Labels, value: number, buckets: readonly number[]): void {
    this.observer(name, help, labels, buckets)(value);
  }

  /**
   * Observations of one histogram series: the series is found (or created) once, so a batch
   * observes many values for the price of one lookup.
   */
  observer(name: string, help: string, labels: Labels, buckets: readonly number[]): (value: number) => void {
    let s = this.series.get(name);
    if (!s) {
      s = { help, type: "histogram", buckets: [...buckets], values: new Map() };
      this.series.set(name, s);
    }
    if (s.type !== "histogram") throw new Error(`metric ${name} is a ${s.type}, not a histogram`);
    const key = labelKey(labels);
    let h = s.values.get(key);
    if (!h) {
      h = { labels, counts: new Array<number>(s.buckets.length + 1).fill(0), sum: 0, count: 0 };
      s.values.set(key, h);
    }
    const sample = h;
    const bounds = s.buckets;
    return (value) => {
      let i = 0;
      while (i < bounds.length && !(value <= bounds[i])) i++;
      sample.counts[i] += 1;
      sample.sum += value;
      sample.count += 1;
    };
  }

  /** A counter's or gauge's value (0 when absent); a histogram's observation count. */
  value(name: string, labels: Labels = {}): number {
    const s = this.series.get(name);
    if (!s) return 0;
    if (s.type === "histogram") return s.values.get(labelKey(labels))?.count ?? 0;
    return s.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, s] of this.series) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      if (s.type === "histogram") {
        for (const h of s.values.values()) {
          let cumulative = 0;
          s.buckets.forEach((le, i) => {
            cumulative += h.counts[i];
            out.push(`${name}_bucket${formatLabels({ ...h.labels, le: String(le) })} ${cumulative}`);
          });
          out.push(`${name}_bucket${formatLabels({ ...h.labels, le: "+Inf" })} ${h.count}`);
          out.push(`${name}_sum${formatLabels(h.labels)} ${h.sum}`, `${name}_count${formatLabels(h.labels)} ${h.count}`);
        }
      } else {
        for (const { labels, value } of s.values.values()) out.push(`${name}${formatLabels(labels)} ${value}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

/**
 * The identity of a label set: names in order, each value JSON-quoted so that no value can make
 * two sets collide. Called for every increment: call sites give their labels in a fixed order,
 * usually sorted already, so the common case builds the key in one pass without sorting.
 */
function labelKey(labels: Labels): string {
  let key = "";
  let previous = "";
  for (const name in labels) {
    if (name < previous) return sortedLabelKey(labels);
    previous = name;
    key += `${name}=${JSON.stringify(labels[name])},`;
  }
  return key;
}

function sortedLabelKey(labels: Labels): string {
  let key = "";
  for (const name of Object.keys(labels).sort()) key += `${name}=${JSON.stringify(labels[name])},`;
  return key;
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
