import type { Sample } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { standardNormal } from '../random/distributions.ts';
import { Rng } from '../random/rng.ts';
import { fitWear, type StateSpan } from './wear-fit.ts';

// A station that runs 40 s of every minute (blocked the other 20 s); its bearing vibration, read
// every second, grows as 1.5·exp(g·running seconds) while running and reads 15 % of it when not;
// the bearing fails at 11 mm/s, is renewed in 80 min, and starts again at 1.5.
const G = 4.5e-5;
const T0 = Date.UTC(2026, 0, 5);
function history(
  hours: number,
  startLevel: number,
): { samples: Sample[]; spans: StateSpan[]; failures: number[]; levels: { t: number; level: number }[] } {
  const rng = new Rng(7, 'wear');
  const samples: Sample[] = [];
  const spans: StateSpan[] = [];
  const failures: number[] = [];
  const levels: { t: number; level: number }[] = [];
  let level0 = startLevel;
  let run = 0;
  let t = T0;
  const end = T0 + hours * 3_600_000;
  while (t < end) {
    const level = level0 * Math.exp(G * run);
    if (level >= 11) {
      failures.push(t);
      spans.push({ state: 'down', start: t, end: t + 4_800_000 });
      for (let s = 0; s < 4800; s++)
        samples.push({ signal: 'v', ts: t + s * 1000, value: 0.15 * level, quality: 'good' });
      t += 4_800_000;
      level0 = 1.5;
      run = 0;
      continue;
    }
    levels.push({ t, level });
    spans.push({ state: 'running', start: t, end: t + 40_000 });
    for (let s = 0; s < 40; s++) {
      const v = level0 * Math.exp(G * (run + s)) + 0.1 * standardNormal(rng);
      samples.push({ signal: 'v', ts: t + s * 1000 + 500, value: v, quality: 'good' });
    }
    run += 40;
    spans.push({ state: 'blocked', start: t + 40_000, end: t + 60_000 });
    for (let s = 40; s < 60; s++)
      samples.push({
        signal: 'v',
        ts: t + s * 1000 + 500,
        value: 0.15 * level0 * Math.exp(G * run),
        quality: 'good',
      });
    t += 60_000;
  }
  return { samples, spans, failures, levels };
}

describe('fitWear', () => {
  it('recovers the growth per running second, the failure level from a renewal and the level at the window end', () => {
    const h = history(40, 3);
    expect(h.failures.length).toBeGreaterThanOrEqual(1);
    // Hours 14–22: after the first renewal (at about 12 h), before the second.
    const from = T0 + 14 * 3_600_000;
    const to = T0 + 22 * 3_600_000;
    const fit = fitWear('v', h.samples, h.spans, from, to, 11.2);
    expect(fit).toBeDefined();
    if (fit === undefined) return;
    expect(Math.abs(fit.growthPerS.value - G)).toBeLessThan(Math.max(3 * fit.growthPerS.se, 0.01 * G));
    const runMs = h.spans
      .filter((x) => x.state === 'running')
      .reduce((a, x) => a + Math.max(0, Math.min(x.end, to) - Math.max(x.start, from)), 0);
    expect(fit.runningShare).toBeCloseTo(runMs / (to - from), 6);
    expect(fit.failAtSource).toBe('observed');
    expect(fit.failAt).toMatchObject({ family: 'normal' });
    if (fit.failAt.family === 'normal') expect(fit.failAt.mean).toBeCloseTo(11, 0);
    expect(fit.newLevel).toBeCloseTo(1.5, 0);
    const atEnd = fit.levels.find((l) => l.atMs === to)?.level ?? 0;
    const truth = h.levels.filter((l) => l.t < to).pop()?.level ?? 0;
    expect(Math.abs(atEnd / truth - 1)).toBeLessThan(0.02);
  });

  it('without a renewal the failure level is the high-high limit; a flat signal is no wear', () => {
    const h = history(8, 3);
    const fit = fitWear('v', h.samples, h.spans, T0, T0 + 8 * 3_600_000, 11.2);
    expect(fit?.failAtSource).toBe('limit');
    expect(fit?.failAt).toMatchObject({ family: 'normal', mean: 11.2 });
    const flat = h.samples.map((s) => ({ ...s, value: 2 + 0.1 * Math.sin(s.ts) }));
    expect(fitWear('v', flat, h.spans, T0, T0 + 8 * 3_600_000, 11.2)).toBeUndefined();
  });
});
