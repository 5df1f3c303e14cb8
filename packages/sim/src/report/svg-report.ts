import type { CalibrationReport } from '../calibrate/calibrate.ts';
import type { ExperimentResult } from '../experiment/replications.ts';
import type { WhatIfResult } from '../experiment/what-if.ts';
import { SIM_STATES, type SimState } from '../line/line-sim.ts';
import type { Estimate } from '../stats/confidence.ts';

const STATE_COLOURS: Record<SimState, string> = {
  running: '#2e7d32',
  starved: '#f9a825',
  blocked: '#ef6c00',
  'micro-stop': '#8e24aa',
  down: '#c62828',
  stopped: '#9e9e9e',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '–');

interface Bar {
  label: string;
  value: Estimate | number;
  colour?: string;
}

/** A horizontal bar chart with 95 % CI whiskers; returns the SVG group and its height. */
function barChart(
  title: string,
  bars: Bar[],
  x: number,
  y: number,
  width: number,
  unit: string,
): { svg: string; height: number } {
  const rowH = 22;
  const labelW = 170;
  const vals = bars.map((b) =>
    typeof b.value === 'number' ? { mean: b.value, low: b.value, high: b.value } : b.value,
  );
  const hi = (v: { mean: number; high: number }): number => (Number.isFinite(v.high) ? v.high : v.mean);
  const lo = (v: { mean: number; low: number }): number => (Number.isFinite(v.low) ? v.low : v.mean);
  // Differences can be negative: the axis starts at min(0, lowest) and bars grow from zero.
  const min = Math.min(0, ...vals.map(lo));
  const max = Math.max(1e-9, ...vals.map(hi));
  const scale = (width - labelW - 90) / (max - min);
  const px = (v: number): number => x + labelW + (v - min) * scale;
  const out: string[] = [`<text x="${x}" y="${y + 14}" font-weight="bold">${esc(title)}</text>`];
  if (min < 0) {
    out.push(`<path d="M${px(0)},${y + 22}v${bars.length * rowH + 4}" stroke="#999" fill="none"/>`);
  }
  bars.forEach((b, i) => {
    const v = vals[i] as { mean: number; low: number; high: number };
    const yy = y + 24 + i * rowH;
    out.push(`<text x="${x + labelW - 6}" y="${yy + 14}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(
      `<rect x="${px(Math.min(0, v.mean))}" y="${yy + 3}" width="${Math.abs(v.mean) * scale}" height="${rowH - 8}" fill="${b.colour ?? '#1565c0'}"/>`,
    );
    if (Number.isFinite(v.low) && v.high > v.low) {
      const cy = yy + rowH / 2 - 1;
      out.push(
        `<path d="M${px(v.low)},${cy}H${px(v.high)}M${px(v.low)},${cy - 5}v10M${px(v.high)},${cy - 5}v10" stroke="#000" fill="none"/>`,
      );
    }
    const ci =
      typeof b.value === 'number' || !Number.isFinite(b.value.halfWidth)
        ? ''
        : ` ± ${fmt(b.value.halfWidth)}`;
    out.push(`<text x="${px(max) + 8}" y="${yy + 14}">${fmt(v.mean)}${ci} ${esc(unit)}</text>`);
  });
  return { svg: `<g>${out.join('')}</g>`, height: 24 + bars.length * rowH + 16 };
}

/** Stacked 100 % bars of state shares per station. */
function stateChart(
  title: string,
  rows: { label: string; shares: Record<SimState, number> }[],
  x: number,
  y: number,
  width: number,
): { svg: string; height: number } {
  const rowH = 22;
  const labelW = 170;
  const w = width - labelW - 20;
  const out: string[] = [`<text x="${x}" y="${y + 14}" font-weight="bold">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const yy = y + 24 + i * rowH;
    out.push(`<text x="${x + labelW - 6}" y="${yy + 14}" text-anchor="end">${esc(r.label)}</text>`);
    let acc = 0;
    for (const s of SIM_STATES) {
      const v = r.shares[s] ?? 0;
      if (v > 0)
        out.push(
          `<rect x="${x + labelW + acc * w}" y="${yy + 3}" width="${v * w}" height="${rowH - 8}" fill="${STATE_COLOURS[s]}"><title>${s} ${(v * 100).toFixed(1)} %</title></rect>`,
        );
      acc += v;
    }
  });
  const ly = y + 24 + rows.length * rowH + 4;
  SIM_STATES.forEach((s, i) => {
    out.push(
      `<rect x="${x + labelW + i * 95}" y="${ly}" width="10" height="10" fill="${STATE_COLOURS[s]}"/><text x="${x + labelW + i * 95 + 14}" y="${ly + 10}">${s}</text>`,
    );
  });
  return { svg: `<g>${out.join('')}</g>`, height: 24 + rows.length * rowH + 30 };
}

function page(
  title: string,
  subtitle: string,
  parts: ((y: number) => { svg: string; height: number })[],
): string {
  const width = 760;
  let y = 50;
  const body: string[] = [];
  for (const p of parts) {
    const r = p(y);
    body.push(r.svg);
    y += r.height + 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="20" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="20" y="40" fill="#555">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/** An SVG report of a replicated run: throughput, state shares per station, buffer levels. */
export function experimentSvg(r: ExperimentResult): string {
  return page(
    `Simulation of ${r.line}`,
    `${r.replications} replications × ${fmt(r.horizonS / 86_400)} days (warm-up ${fmt(r.warmupS / 3600)} h); bottleneck: ${r.bottleneck}; bars show 95 % CIs`,
    [
      (y) =>
        barChart('Throughput', [{ label: 'good parts', value: r.throughputPerHour }], 20, y, 720, 'parts/h'),
      (y) =>
        stateChart(
          'State shares per station',
          r.stations.map((s) => ({ label: s.id, shares: meanShares(s.stateShares) })),
          20,
          y,
          720,
        ),
      (y) =>
        barChart(
          'Mean buffer levels',
          r.buffers.map((b) => ({ label: `${b.id} (cap ${b.capacity})`, value: b.meanLevel })),
          20,
          y,
          720,
          'parts',
        ),
    ],
  );
}

/** An SVG report of a what-if comparison: throughput and paired differences per scenario. */
export function whatIfSvg(r: WhatIfResult): string {
  const parts = [
    (y: number) =>
      barChart(
        'Throughput per scenario',
        [
          { label: 'baseline', value: r.baseline.throughputPerHour, colour: '#616161' },
          ...r.scenarios.map((s) => ({ label: s.name, value: s.result.throughputPerHour })),
        ],
        20,
        y,
        720,
        'parts/h',
      ),
    (y: number) =>
      barChart(
        'Change vs baseline (paired, common random numbers)',
        r.scenarios.map((s) => ({
          label: s.name,
          value: s.throughputDiffPerHour,
          colour: s.throughputDiffPerHour.mean >= 0 ? '#2e7d32' : '#c62828',
        })),
        20,
        y,
        720,
        'parts/h',
      ),
  ];
  if (r.baseline.ovenScrapRate !== undefined) {
    parts.push((y: number) =>
      barChart(
        'Oven scrap rate',
        [
          { label: 'baseline', value: pct(r.baseline.ovenScrapRate as Estimate), colour: '#616161' },
          ...r.scenarios.map((s) => ({
            label: s.name,
            value: pct(s.result.ovenScrapRate as Estimate),
            colour: '#6d4c41',
          })),
        ],
        20,
        y,
        720,
        '%',
      ),
    );
  }
  return page(
    `What-if on ${r.baseline.line}`,
    `${r.baseline.replications} replications × ${fmt(r.baseline.horizonS / 86_400)} days; bottleneck: baseline ${r.baseline.bottleneck}, ${r.scenarios.map((s) => `${s.name} ${s.result.bottleneck}`).join(', ')}`,
    parts,
  );
}

/** An SVG report of a calibration: observed vs simulated state shares and throughput. */
export function calibrationSvg(r: CalibrationReport): string {
  const parts = [
    (y: number) =>
      stateChart(
        'Observed state shares',
        Object.entries(r.observed.stateShares).map(([label, shares]) => ({ label, shares })),
        20,
        y,
        720,
      ),
  ];
  const v = r.validation;
  if (v !== undefined) {
    parts.push((y: number) =>
      stateChart(
        'Simulated state shares (calibrated model, same window)',
        v.experiment.stations.map((s) => ({ label: s.id, shares: meanShares(s.stateShares) })),
        20,
        y,
        720,
      ),
    );
    const tp = v.rows.find((x) => x.metric.startsWith('throughput'));
    if (tp !== undefined) {
      parts.push((y: number) =>
        barChart(
          'Throughput',
          [
            { label: 'observed', value: tp.observed, colour: '#616161' },
            { label: 'simulated', value: tp.simulated },
          ],
          20,
          y,
          720,
          'parts/h',
        ),
      );
    }
  }
  return page(
    `Calibration of ${r.line}`,
    `${new Date(r.window.fromMs).toISOString()} – ${new Date(r.window.toMs).toISOString()}`,
    parts,
  );
}

function meanShares(s: Record<SimState, Estimate>): Record<SimState, number> {
  const out = {} as Record<SimState, number>;
  for (const k of SIM_STATES) out[k] = s[k].mean;
  return out;
}

function pct(e: Estimate): Estimate {
  return {
    ...e,
    mean: e.mean * 100,
    halfWidth: e.halfWidth * 100,
    low: e.low * 100,
    high: e.high * 100,
    sd: e.sd * 100,
  };
}
