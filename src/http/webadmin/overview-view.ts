import { html, raw } from "hono/html";
import type { RecentFigures } from "../../queue/admin-figures.ts";
import type { QueueDepthSample } from "../../queue/depth-history.ts";
import { type Html, scroll } from "./layout.ts";

const COLORS = { delivered: "#3a3", deferred: "#e90", failed: "#c33" } as const;

function seconds(v: number | null): string {
  if (v === null) return "–";
  return v < 10 ? `${v.toFixed(2)} s` : v < 600 ? `${Math.round(v)} s` : `${Math.round(v / 60)} min`;
}

/**
 * Outcomes per minute over the window as stacked bars: inline SVG built from numbers only
 * (no user text inside), so nothing needs a chart library or a CDN.
 */
function outcomeChart(f: RecentFigures, now: Date, windowMinutes: number): Html {
  const w = 600;
  const h = 120;
  const barW = w / windowMinutes;
  const start = Math.floor(now.getTime() / 60_000) - windowMinutes + 1;
  const max = Math.max(1, ...f.perMinute.map((m) => m.delivered + m.deferred + m.failed));
  const bars: string[] = [];
  for (const m of f.perMinute) {
    const slot = Math.floor(m.minute.getTime() / 60_000) - start;
    if (slot < 0 || slot >= windowMinutes) continue;
    let y = h;
    for (const kind of ["delivered", "deferred", "failed"] as const) {
      const bh = (m[kind] / max) * h;
      if (bh <= 0) continue;
      y -= bh;
      bars.push(`<rect x="${(slot * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLORS[kind]}"><title>${kind}: ${m[kind]}</title></rect>`);
    }
  }
  const svg = `<svg viewBox="0 0 ${w} ${h + 14}" width="100%" style="max-width:${w}px" role="img" aria-label="attempts per minute, last ${windowMinutes} minutes">
<line x1="0" y1="${h}" x2="${w}" y2="${h}" stroke="#999"/>${bars.join("")}<text x="0" y="${h + 12}" font-size="10" fill="#666">−${windowMinutes} min</text><text x="${w}" y="${h + 12}" font-size="10" fill="#666" text-anchor="end">now (max ${max}/min)</text></svg>`;
  return html`${raw(svg)}<p class="muted">${(Object.keys(COLORS) as Array<keyof typeof COLORS>).map((k) => html`<span style="color:${COLORS[k]}">■</span> ${k} `)}</p>`;
}

const DEPTH_COLORS = { queued: "#36c", deferred: "#e90", held: "#888" } as const;

/**
 * Queue depth per state over the window as one line per state, on the outcome chart's
 * minute axis; a missing sample (no sampler running then) breaks the line instead of
 * drawing a slope through the gap. Numbers only inside the SVG, like the outcome chart.
 */
export function queueDepthChart(samples: readonly QueueDepthSample[], now: Date, sampleSeconds: number, windowMinutes = 60): Html {
  if (samples.length === 0) return html`<p class="muted">No samples yet: the member that exports the cluster figures records the queue depth every ${sampleSeconds} s.</p>`;
  const w = 600;
  const h = 120;
  const windowMs = windowMinutes * 60_000;
  const start = now.getTime() - windowMs;
  const max = Math.max(1, ...samples.map((x) => Math.max(x.queued, x.deferred, x.held)));
  const x = (t: Date) => (((t.getTime() - start) / windowMs) * w).toFixed(1);
  const y = (v: number) => (h - (v / max) * h).toFixed(1);
  const lines = (Object.keys(DEPTH_COLORS) as Array<keyof typeof DEPTH_COLORS>).map((state) => {
    let d = "";
    samples.forEach((p, i) => {
      const gap = i === 0 || p.at.getTime() - samples[i - 1].at.getTime() > sampleSeconds * 1500;
      const at = `${x(p.at)} ${y(p[state])}`;
      // A line of no length with round caps is a dot: a lone sample stays visible.
      d += gap ? `M${at}L${at}` : `L${at}`;
    });
    const last = samples[samples.length - 1];
    return `<path d="${d}" fill="none" stroke="${DEPTH_COLORS[state]}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" data-state="${state}"><title>${state}: ${last[state]} now</title></path>`;
  });
  const svg = `<svg viewBox="0 0 ${w} ${h + 14}" width="100%" style="max-width:${w}px" role="img" aria-label="queue depth per state, last ${windowMinutes} minutes" data-samples="${samples.length}">
<line x1="0" y1="${h}" x2="${w}" y2="${h}" stroke="#999"/>${lines.join("")}<text x="0" y="${h + 12}" font-size="10" fill="#666">−${windowMinutes} min</text><text x="${w}" y="${h + 12}" font-size="10" fill="#666" text-anchor="end">now (max ${max})</text></svg>`;
  const last = samples[samples.length - 1];
  return html`${raw(svg)}<p class="muted">${(Object.keys(DEPTH_COLORS) as Array<keyof typeof DEPTH_COLORS>).map((k) => html`<span style="color:${DEPTH_COLORS[k]}">■</span> ${k} ${last[k]} `)}(sampled ${last.at.toISOString().slice(11, 16)} UTC, every ${sampleSeconds} s)</p>`;
}

export function recentFiguresView(f: RecentFigures, now: Date, windowMinutes = 60): Html {
  const total = (k: "delivered" | "deferred" | "failed") => f.perMinute.reduce((n, m) => n + m[k], 0);
  return html`<h2>Last hour</h2>
<p class="bar"><span>delivered <b>${total("delivered")}</b></span><span>deferred <b>${total("deferred")}</b></span><span>failed <b>${total("failed")}</b></span>
<span>time in queue p50 <b>${seconds(f.queueTime.p50)}</b>, p95 <b>${seconds(f.queueTime.p95)}</b> (${f.queueTime.finished} finished)</span></p>
${outcomeChart(f, now, windowMinutes)}
<h2>Top deferral reasons</h2>${
    f.topDeferrals.length === 0
      ? html`<p>No deferrals in the last hour.</p>`
      : scroll(html`<table><tr><th>count</th><th>reply</th></tr>${f.topDeferrals.map((d) => html`<tr><td>${d.count}</td><td>${d.code} ${d.enhanced ?? ""} ${d.text}</td></tr>`)}</table>`)
  }
<h2>Throughput per member</h2>${
    f.perMember.length === 0
      ? html`<p>No attempts in the last hour.</p>`
      : scroll(html`<table><tr><th>member</th><th>delivered</th><th>per minute</th><th>deferred</th><th>failed</th></tr>
${f.perMember.map((m) => html`<tr><td>${m.member}</td><td>${m.delivered}</td><td>${(m.delivered / windowMinutes).toFixed(m.delivered < windowMinutes ? 2 : 1)}</td><td>${m.deferred}</td><td>${m.failed}</td></tr>`)}</table>`)
  }`;
}
