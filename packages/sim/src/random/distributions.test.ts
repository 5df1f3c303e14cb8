import { describe, expect, it } from 'vitest';
import {
  compileDistribution,
  type DistributionSpec,
  distributionMean,
  normalCdf,
  standardNormal,
} from './distributions.ts';
import { Rng } from './rng.ts';

describe('distributions', () => {
  it('the ziggurat normal has the right moments and tails', () => {
    const rng = new Rng(42, 'zig');
    const n = 400_000;
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let tail = 0;
    for (let i = 0; i < n; i++) {
      const z = standardNormal(rng);
      s += z;
      s2 += z * z;
      s4 += z ** 4;
      if (z > 2.5) tail++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(s2 / n).toBeCloseTo(1, 1);
    expect(s4 / n).toBeCloseTo(3, 0);
    const p = 1 - normalCdf(2.5);
    expect(Math.abs(tail / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });

  it('the sample mean of each family matches its mean', () => {
    const specs: DistributionSpec[] = [
      { family: 'exponential', mean: 3 },
      { family: 'normal', mean: 10, sd: 2 },
      { family: 'normal', mean: 1, sd: 2, min: 0 },
      { family: 'lognormal', mu: 1, sigma: 0.5 },
      { family: 'weibull', shape: 1.5, scale: 4 },
      { family: 'gamma', shape: 0.7, scale: 2 },
      { family: 'gamma', shape: 5, scale: 2 },
      { family: 'triangular', min: 1, mode: 2, max: 6 },
      { family: 'deterministic', value: 7 },
      { family: 'empirical', values: [1, 2, 3, 10] },
    ];
    for (const spec of specs) {
      const f = compileDistribution(spec);
      const rng = new Rng(7, spec.family);
      const n = 200_000;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = f(rng);
        s += x;
        s2 += x * x;
      }
      const m = s / n;
      const se = Math.sqrt((s2 / n - m * m) / n);
      expect(Math.abs(m - distributionMean(spec)), JSON.stringify(spec)).toBeLessThanOrEqual(4 * se + 1e-12);
    }
  });

  it('streams are reproducible and independent by name', () => {
    const a = new Rng(1, 'press/cycle');
    const b = new Rng(1, 'press/cycle');
    const c = new Rng(1, 'weld/cycle');
    const xa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xa);
  });
});
