import type { Sample } from "./run-meter.js";

const WIDTH = 900;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 80, right: 150, top: 50, gap: 60, bottom: 45 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const HEIGHT = MARGIN.top + 2 * PANEL_HEIGHT + MARGIN.gap + MARGIN.bottom;

interface Series {
  readonly name: string;
  readonly color: string;
  /** One value per sample; undefined leaves a gap in the line. */
  readonly values: readonly (number | undefined)[];
}

/**
 * A self-contained SVG of a run: message rates over time on top (linear axis) and
 * publish-to-consume latency p50 and p99 below (logarithmic axis, since a p99 spike
 * would otherwise flatten the p50 line). No scripts, no external fonts.
 */
export function renderPlot(samples: readonly Sample[], title: string): string {
  const times = samples.map((s) => s.elapsedS);
  const maxTime = Math.max(1, ...times);
  const x = (t: number) => MARGIN.left + (t / maxTime) * PLOT_WIDTH;
  const rates: Series[] = [
    { name: "sent/s", color: "#1f77b4", values: samples.map((s) => s.sentPerS) },
    { name: "received/s", color: "#2ca02c", values: samples.map((s) => s.receivedPerS) },
    { name: "confirmed/s", color: "#ff7f0e", values: samples.map((s) => s.confirmedPerS) },
  ];
  const latency: Series[] = [
    { name: "latency p50", color: "#9467bd", values: samples.map((s) => s.latencyMs?.p50) },
    { name: "latency p99", color: "#d62728", values: samples.map((s) => s.latencyMs?.p99) },
  ];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
  const rateTop = MARGIN.top;
  const latencyTop = MARGIN.top + PANEL_HEIGHT + MARGIN.gap;
  const rateMax = niceCeiling(Math.max(0, ...rates.flatMap((s) => defined(s.values))));
  const rateY = (v: number) => rateTop + PANEL_HEIGHT - (v / rateMax) * PANEL_HEIGHT;
  out.push(...panelFrame(rateTop, "messages per second"));
  for (const tick of linearTicks(rateMax)) {
    out.push(hTick(rateY(tick), formatNumber(tick)));
  }
  const latencyValues = latency.flatMap((s) => defined(s.values)).filter((v) => v > 0);
  const [lo, hi] = logRange(latencyValues);
  const latencyY = (v: number) => {
    const clamped = Math.min(hi, Math.max(lo, v));
    const f = (Math.log10(clamped) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo));
    return latencyTop + PANEL_HEIGHT - f * PANEL_HEIGHT;
  };
  out.push(...panelFrame(latencyTop, "latency, ms (log scale)"));
  for (const tick of logTicks(lo, hi)) out.push(hTick(latencyY(tick), formatNumber(tick)));
  for (const tick of linearTicks(maxTime)) {
    const tx = x(tick);
    for (const top of [rateTop, latencyTop]) {
      out.push(
        `<line x1="${r(tx)}" y1="${top + PANEL_HEIGHT}" x2="${r(tx)}" y2="${top + PANEL_HEIGHT + 5}" stroke="#333"/>`,
        `<text x="${r(tx)}" y="${top + PANEL_HEIGHT + 18}" text-anchor="middle">${formatNumber(tick)}</text>`,
      );
    }
  }
  out.push(
    `<text x="${MARGIN.left + PLOT_WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">seconds</text>`,
  );
  rates.forEach((s, i) => out.push(...line(s, times, x, rateY), legend(s, rateTop, i)));
  if (latencyValues.length === 0) {
    out.push(
      `<text x="${MARGIN.left + PLOT_WIDTH / 2}" y="${latencyTop + PANEL_HEIGHT / 2}" text-anchor="middle" fill="#777">no latency figures (no timestamped message received)</text>`,
    );
  }
  latency.forEach((s, i) => out.push(...line(s, times, x, latencyY), legend(s, latencyTop, i)));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function panelFrame(top: number, label: string): string[] {
  const midY = top + PANEL_HEIGHT / 2;
  return [
    `<rect x="${MARGIN.left}" y="${top}" width="${PLOT_WIDTH}" height="${PANEL_HEIGHT}" fill="none" stroke="#333"/>`,
    `<text x="18" y="${midY}" text-anchor="middle" transform="rotate(-90 18 ${midY})">${label}</text>`,
  ];
}

function hTick(y: number, label: string): string {
  const x0 = MARGIN.left;
  return (
    `<line x1="${x0}" y1="${r(y)}" x2="${x0 + PLOT_WIDTH}" y2="${r(y)}" stroke="#ddd"/>` +
    `<text x="${x0 - 6}" y="${r(y + 4)}" text-anchor="end">${label}</text>`
  );
}

/** Polylines for a series, split where values are missing. */
function line(
  s: Series,
  times: readonly number[],
  x: (t: number) => number,
  y: (v: number) => number,
): string[] {
  const runs: string[][] = [[]];
  s.values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) {
      if (runs[runs.length - 1]!.length > 0) runs.push([]);
      return;
    }
    runs[runs.length - 1]!.push(`${r(x(times[i]!))},${r(y(v))}`);
  });
  return runs
    .filter((pts) => pts.length > 0)
    .map(
      (pts) =>
        `<polyline data-series="${escapeXml(s.name)}" fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts.join(" ")}"/>`,
    );
}

function legend(s: Series, top: number, index: number): string {
  const lx = MARGIN.left + PLOT_WIDTH + 15;
  const ly = top + 15 + index * 20;
  return (
    `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>` +
    `<text x="${lx + 26}" y="${ly + 4}">${escapeXml(s.name)}</text>`
  );
}

function defined(values: readonly (number | undefined)[]): number[] {
  return values.filter((v): v is number => v !== undefined && Number.isFinite(v));
}

/** The smallest 1, 2 or 5 x 10^k at or above v (1 for v <= 0). */
export function niceCeiling(v: number): number {
  if (v <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= v) return m * magnitude;
  return 10 * magnitude;
}

/** About five evenly spaced round ticks from 0 to max. */
export function linearTicks(max: number): number[] {
  const step = niceCeiling(max / 5);
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
}

/** A log-axis range covering the values, widened to 1-2-5 steps (0.1..10 ms when empty). */
export function logRange(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0.1, 10];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  let a = 10 ** Math.floor(Math.log10(lo));
  for (const m of [5, 2]) if (m * a <= lo) a *= m;
  const b = niceCeiling(hi);
  return b > a ? [a, b] : [a, a * 10];
}

/** Ticks at 1, 2 and 5 x 10^k within [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(lo)); decade <= hi; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * decade).toPrecision(6));
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

function formatNumber(v: number): string {
  if (v >= 1_000_000) return `${v / 1_000_000}M`;
  if (v >= 10_000) return `${v / 1000}k`;
  return String(v);
}

function r(v: number): string {
  return v.toFixed(1);
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
