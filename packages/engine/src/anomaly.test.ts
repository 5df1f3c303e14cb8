import { describe, expect, it } from 'vitest';
import { AnomalyDetectors, DEFAULT_ANOMALY_PARAMS } from './anomaly.ts';
import type { AnomalyKind } from './types.ts';

/** Deterministic standard normal noise (mulberry32 + Box-Muller). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4_294_967_297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function run(values: (i: number, n: () => number) => number, count: number, range = {}) {
  const events: Array<{ kind: AnomalyKind; detail: string; i: number }> = [];
  const d = new AnomalyDetectors(
    [range],
    { ...DEFAULT_ANOMALY_PARAMS, baselineSamples: 100, spcBaselineMinutes: 20 },
    (_idx, kind, detail, ts) => events.push({ kind, detail, i: ts / 1000 }),
  );
  const n = noise(42);
  const ts = new Float64Array(1);
  const vs = new Float64Array(1);
  for (let i = 0; i < count; i++) {
    ts[0] = i * 1000;
    vs[0] = values(i, n);
    d.add(0, ts, vs);
  }
  return events;
}

describe('anomaly detectors', () => {
  it('stay quiet on a stationary signal (after the baseline)', () => {
    const ev = run((_i, n) => 50 + n(), 3 * 3600, { normalMin: 40, normalMax: 60 });
    expect(ev.filter((e) => e.kind === 'limit' || e.kind === 'trend' || e.kind === 'stuck')).toEqual([]);
    expect(ev.map((e) => `${e.kind}@${e.i}`)).toEqual([]);
  });

  it('flag a level shift (CUSUM) and a drift (EWMA) of the minute means', () => {
    const ev = run((i, n) => 50 + n() + (i > 3600 ? 0.5 : 0), 2 * 3600);
    const after = ev.filter((e) => e.i > 3600);
    expect(after.some((e) => e.kind === 'cusum' && e.detail === 'level shift up')).toBe(true);
    expect(after.some((e) => e.kind === 'ewma' && e.detail === 'drift up')).toBe(true);
  });

  it('flag a limit violation, a spike and a stuck sensor', () => {
    const ev = run((i, n) => (i === 2000 ? 70 : i >= 3000 && i < 3100 ? 50.123 : 50 + n()), 4000, {
      normalMin: 40,
      normalMax: 60,
    });
    expect(ev.find((e) => e.kind === 'limit')?.i).toBe(2000);
    expect(ev.filter((e) => e.kind === 'rate-of-change').map((e) => e.i)).toEqual([2000]);
    expect(ev.find((e) => e.kind === 'stuck')?.i).toBe(3000 + DEFAULT_ANOMALY_PARAMS.stuckSamples - 1);
  });

  it('flag a frozen sensor that stops reporting (by exception)', () => {
    const events: string[] = [];
    const d = new AnomalyDetectors(
      [{}],
      { ...DEFAULT_ANOMALY_PARAMS, baselineSamples: 100 },
      (_i, kind, detail, ts) => events.push(`${kind}@${ts / 1000}:${detail}`),
    );
    const n = noise(7);
    const ts = new Float64Array(1);
    const vs = new Float64Array(1);
    for (let i = 0; i < 200; i++) {
      ts[0] = i * 1000;
      vs[0] = 20 + n();
      d.add(0, ts, vs);
    }
    d.checkSilent(0, 199_000 + 10_000);
    expect(events).toEqual([]);
    d.checkSilent(0, 199_000 + 31_000);
    expect(events).toEqual(['stuck@230:no new value for 31 s']);
  });

  it('flag a rising trend projected to cross its limit long before it does', () => {
    // Bearing-like wear: 2 mm/s growing by 16 %/h, limit 7.1 mm/s (crossed after ~7.9 h).
    const ev = run((i, n) => 2 * Math.exp((0.16 * i) / 3600) + 0.1 * n(), 8 * 3600, { trendHi: 7.1 });
    const trend = ev.find((e) => e.kind === 'trend');
    expect(trend).toBeDefined();
    const crossS = (Math.log(7.1 / 2) / 0.16) * 3600;
    expect(trend?.i).toBeLessThan(crossS - 3600);
    expect(trend?.detail).toMatch(/^rising/);
  });
});
