import { lnGamma } from '../random/distributions.ts';

/**
 * A gamma prior of failure rates across a line's stations: rate ~ Gamma(shape `alpha`, rate
 * `beta`), so a station's failures in `exposure` operating seconds are negative binomial. The
 * mean rate is alpha / beta per operating second; a small `alpha` says the stations differ a
 * lot (one station fails far more often than the others).
 */
export interface FailureRatePrior {
  alpha: number;
  /** Operating seconds (the prior is worth `alpha` failures in `beta` seconds). */
  beta: number;
  /** The largest alpha tried: the counts showed no more spread than Poisson (stations alike). */
  homogeneous: boolean;
}

const ALPHA_MAX = Math.exp(8);

/**
 * Fits the gamma prior of failure rates by maximum marginal likelihood (empirical Bayes,
 * Poisson–gamma): per station a failure count and the operating seconds it was seen over.
 * For a given alpha the best beta solves Σ α/β − (α + kᵢ)/(β + Tᵢ) = 0 (bisection); alpha
 * is searched on a log grid and refined. Returns undefined without any failure or exposure.
 *
 * A station's posterior mean rate is (alpha + k) / (beta + T): a station without failures
 * gets alpha / (beta + T), which is small when the line's failures come from a few stations.
 *
 * @example
 * const prior = fitFailureRatePrior([0, 6, 0, 3], [15_000, 17_000, 16_000, 21_000]);
 */
export function fitFailureRatePrior(
  counts: readonly number[],
  exposuresS: readonly number[],
): FailureRatePrior | undefined {
  const k = counts.filter((_, i) => (exposuresS[i] ?? 0) > 0);
  const t = exposuresS.filter((x) => x > 0);
  const total = k.reduce((a, v) => a + v, 0);
  const exposure = t.reduce((a, v) => a + v, 0);
  if (total <= 0 || exposure <= 0) return undefined;
  const betaFor = (alpha: number): number => {
    // g(β) = Σ α/β − (α + kᵢ)/(β + Tᵢ) is positive for small β and negative for large β when
    // the counts are overdispersed; without a root the pooled limit β = α·T/K is used.
    const g = (b: number): number => {
      let s = 0;
      for (let i = 0; i < k.length; i++) s += alpha / b - (alpha + (k[i] as number)) / (b + (t[i] as number));
      return s;
    };
    let lo = 1e-9 * exposure;
    let hi = (alpha * exposure) / total;
    while (g(hi) > 0 && hi < 1e12 * exposure) hi *= 2;
    if (g(lo) < 0) return lo;
    for (let it = 0; it < 200; it++) {
      const mid = Math.sqrt(lo * hi);
      if (g(mid) > 0) lo = mid;
      else hi = mid;
      if (hi / lo < 1 + 1e-12) break;
    }
    return Math.sqrt(lo * hi);
  };
  const logLik = (alpha: number): number => {
    const beta = betaFor(alpha);
    let s = 0;
    for (let i = 0; i < k.length; i++) {
      const ki = k[i] as number;
      s +=
        lnGamma(alpha + ki) -
        lnGamma(alpha) +
        alpha * Math.log(beta) -
        (alpha + ki) * Math.log(beta + (t[i] as number));
    }
    return s;
  };
  let best = Math.log(ALPHA_MAX);
  let bestL = logLik(ALPHA_MAX);
  for (let la = -6; la < Math.log(ALPHA_MAX); la += 0.1) {
    const l = logLik(Math.exp(la));
    if (l > bestL + 1e-9) {
      bestL = l;
      best = la;
    }
  }
  // Golden-section refinement around the grid optimum.
  let a = best - 0.1;
  let b = Math.min(Math.log(ALPHA_MAX), best + 0.1);
  const r = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 40; it++) {
    const c = b - r * (b - a);
    const d = a + r * (b - a);
    if (logLik(Math.exp(c)) > logLik(Math.exp(d))) b = d;
    else a = c;
  }
  const alpha = Math.exp((a + b) / 2);
  return { alpha, beta: betaFor(alpha), homogeneous: alpha >= ALPHA_MAX * 0.99 };
}
