import { describe, expect, it } from 'vitest';
import { fitFailureRatePrior } from './failure-prior.ts';

describe('fitFailureRatePrior (Poisson–gamma empirical Bayes)', () => {
  it('stations that fail alike give the pooled rate', () => {
    const p = fitFailureRatePrior([3, 2, 4, 3], [10_000, 10_000, 10_000, 10_000]);
    expect(p?.homogeneous).toBe(true);
    expect((p?.alpha ?? 0) / (p?.beta ?? 1)).toBeCloseTo(12 / 40_000, 6);
  });

  it('one station failing far more than the others gives a wide prior: a quiet station gets a small rate', () => {
    const p = fitFailureRatePrior([0, 6, 0, 3, 0, 0], [15_500, 17_600, 16_500, 20_800, 15_100, 13_200]);
    expect(p).toBeDefined();
    if (p === undefined) return;
    expect(p.homogeneous).toBe(false);
    expect(p.alpha).toBeLessThan(1);
    const pooled = 9 / (15_500 + 17_600 + 16_500 + 20_800 + 15_100 + 13_200);
    // A station without failures in 15 500 s: its posterior mean rate is well below the pooled one.
    expect(p.alpha / (p.beta + 15_500)).toBeLessThan(pooled / 2);
    // The marginal likelihood is at its maximum: nearby shapes do worse.
    const ll = (a: number, b: number): number =>
      [0, 6, 0, 3, 0, 0].reduce((s, k, i) => {
        const t = [15_500, 17_600, 16_500, 20_800, 15_100, 13_200][i] as number;
        let l = a * Math.log(b) - (a + k) * Math.log(b + t);
        for (let j = 0; j < k; j++) l += Math.log(a + j);
        return s + l;
      }, 0);
    expect(ll(p.alpha, p.beta)).toBeGreaterThanOrEqual(ll(p.alpha * 1.2, (p.beta * 1.2) / 1) - 1e-9);
    expect(ll(p.alpha, p.beta)).toBeGreaterThanOrEqual(ll(p.alpha * 0.8, p.beta * 0.8) - 1e-9);
  });

  it('no failures at all: no prior', () => {
    expect(fitFailureRatePrior([0, 0], [1000, 2000])).toBeUndefined();
  });
});
