import { describe, expect, it } from 'vitest';
import { compileDistribution, type DistributionSpec } from '../random/distributions.ts';
import { Rng } from '../random/rng.ts';
import { fitDistribution, gammaP } from './fit-distribution.ts';

function draw(spec: DistributionSpec, n: number, seed = 1): number[] {
  const s = compileDistribution(spec);
  const rng = new Rng(seed, 'fit');
  return Array.from({ length: n }, () => s(rng));
}

describe('maximum-likelihood fits', () => {
  it('incomplete gamma matches known values', () => {
    expect(gammaP(1, 2)).toBeCloseTo(1 - Math.exp(-2), 10);
    expect(gammaP(3, 2)).toBeCloseTo(0.3233235838, 8);
    expect(gammaP(10, 15)).toBeCloseTo(0.9301463, 6);
  });

  it('recovers each family and picks it by AIC', () => {
    const cases: [DistributionSpec, string, number][] = [
      [{ family: 'weibull', shape: 2.5, scale: 100 }, 'shape', 2.5],
      [{ family: 'lognormal', mu: 3, sigma: 0.6 }, 'sigma', 0.6],
      [{ family: 'gamma', shape: 4, scale: 5 }, 'shape', 4],
      [{ family: 'exponential', mean: 50 }, 'mean', 50],
    ];
    for (const [spec, key, value] of cases) {
      const fit = fitDistribution({ exact: draw(spec, 2000), censored: [] });
      expect(fit.best.family, JSON.stringify(spec)).toBe(spec.family);
      const p = fit.best.params[key];
      expect(Math.abs((p?.value ?? 0) - value), `${spec.family}.${key}`).toBeLessThan(3 * (p?.se ?? 0));
      expect(fit.best.ks).toBeLessThan(0.04);
    }
  });

  it('uses right-censored observations (ignoring them biases the mean down)', () => {
    const xs = draw({ family: 'exponential', mean: 100 }, 3000, 5);
    const cut = 150;
    const exact = xs.filter((x) => x < cut);
    const censored = xs.filter((x) => x >= cut).map(() => cut);
    const fit = fitDistribution({ exact, censored }, ['exponential', 'weibull']);
    const m = fit.candidates.find((c) => c.family === 'exponential')?.params.mean;
    expect(Math.abs((m?.value ?? 0) - 100)).toBeLessThan(3 * (m?.se ?? 0));
    const naive = fitDistribution({ exact, censored: [] }, ['exponential']);
    expect(naive.best.mean).toBeLessThan(70);
  });
});
