/**
 * A tiny Prometheus-text registry: counters and gauges with labels. Enough for our figures
 * without pulling a client library that assumes Node's process APIs.
 */
type Labels = Record<string, string>;

interface Series {
  help: string;
  type: "counter" | "gauge";
  values: Map<string, { labels: Labels; value: number }>;
}

export class Metrics {
  private readonly series = new Map<string, Series>();

  private get(name: string, help: string, type: Series["type"]): Series {
    let s = this.series.get(name);
    if (!s) {
      s = { help, type, values: new Map() };
      this.series.set(name, s);
    }
    return s;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const s = this.get(name, help, "counter");
    const key = labelKey(labels);
    const cur = s.values.get(key);
    if (cur) cur.value += by;
    else s.values.set(key, { labels, value: by });
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    const s = this.get(name, help, "gauge");
    s.values.set(labelKey(labels), { labels, value });
  }

  value(name: string, labels: Labels = {}): number {
    return this.series.get(name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, s] of this.series) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      for (const { labels, value } of s.values.values()) out.push(`${name}${formatLabels(labels)} ${value}`);
    }
    return out.join("\n") + "\n";
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
