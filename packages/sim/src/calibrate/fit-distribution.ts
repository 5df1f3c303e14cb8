import { GembaError } from '@gemba/core';
import { type DistributionSpec, lnGamma, normalCdf } from '../random/distributions.ts';
import { nelderMead } from './nelder-mead.ts';

/** Observed durations: exact values and right-censored ones (the true value is at least this). */
export interface Observations {
  exact: number[];
  censored: number[];
}

/** Families the fitter tries. */
export type FitFamily = 'exponential' | 'weibull' | 'lognormal' | 'gamma' | 'normal';

/** One family's maximum-likelihood fit. */
export interface FamilyFit {
  family: FitFamily;
  spec: DistributionSpec;
  /** Parameter estimates with standard errors (from the observed information matrix). */
  params: Record<string, { value: number; se: number }>;
  logLikelihood: number;
  /** Akaike information criterion, 2k − 2 ln L (smaller is better). */
  aic: number;
  /** AIC with the small-sample correction 2k(k + 1)/(n − k − 1) (Hurvich & Tsai 1989); the choice is made on it. */
  aicc: number;
  /** Kolmogorov–Smirnov distance between the exact observations and the fitted CDF. */
  ks: number;
  /** Fitted mean. */
  mean: number;
}

/** The small-sample term of AICc; infinite when n ≤ k + 1 (the family is then not chosen). */
function aiccPenalty(k: number, n: number): number {
  return n > k + 1 ? (2 * k * (k + 1)) / (n - k - 1) : Number.POSITIVE_INFINITY;
}

/** The chosen fit and the alternatives, best (lowest AICc) first. */
export interface FitResult {
  best: FamilyFit;
  candidates: FamilyFit[];
  n: number;
  censored: number;
}

/** Lower regularised incomplete gamma P(a, x) (Numerical Recipes gser/gcf). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const gln = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 500; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-14) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return 1 - Math.exp(-x + a * Math.log(x) - gln) * h;
}

interface Family {
  name: FitFamily;
  paramNames: string[];
  /** Natural parameters from the unconstrained search vector. */
  toParams(u: number[]): number[];
  fromParams(p: number[]): number[];
  start(o: Observations): number[];
  logPdf(x: number, p: number[]): number;
  logSurv(x: number, p: number[]): number;
  cdf(x: number, p: number[]): number;
  spec(p: number[]): DistributionSpec;
  mean(p: number[]): number;
}

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const logSafe = (v: number): number => Math.log(Math.max(v, 1e-300));

function moments(o: Observations): { mean: number; sd: number; logMean: number; logSd: number } {
  const xs = o.exact.length > 1 ? o.exact : [...o.exact, ...o.censored];
  const n = xs.length;
  const mean = xs.reduce((a, v) => a + v, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, n - 1)) || mean * 0.1 || 1;
  const ls = xs.map((v) => Math.log(Math.max(v, 1e-9)));
  const logMean = ls.reduce((a, v) => a + v, 0) / n;
  const logSd = Math.sqrt(ls.reduce((a, v) => a + (v - logMean) ** 2, 0) / Math.max(1, n - 1)) || 0.1;
  return { mean, sd, logMean, logSd };
}

const FAMILIES: Record<FitFamily, Family> = {
  exponential: {
    name: 'exponential',
    paramNames: ['mean'],
    toParams: (u) => [Math.exp(u[0] as number)],
    fromParams: (p) => [Math.log(p[0] as number)],
    start: (o) => [moments(o).mean],
    logPdf: (x, [m]) => -Math.log(m as number) - x / (m as number),
    logSurv: (x, [m]) => -x / (m as number),
    cdf: (x, [m]) => 1 - Math.exp(-x / (m as number)),
    spec: ([m]) => ({ family: 'exponential', mean: m as number }),
    mean: ([m]) => m as number,
  },
  weibull: {
    name: 'weibull',
    paramNames: ['shape', 'scale'],
    toParams: (u) => u.map(Math.exp),
    fromParams: (p) => p.map(Math.log),
    start: (o) => {
      const m = moments(o);
      const k = Math.max(0.2, Math.min(20, 1.2 / Math.max(0.05, m.sd / m.mean)));
      return [k, m.mean / Math.exp(lnGamma(1 + 1 / k))];
    },
    logPdf: (x, [k, l]) =>
      Math.log(k as number) -
      Math.log(l as number) +
      ((k as number) - 1) * Math.log(x / (l as number)) -
      (x / (l as number)) ** (k as number),
    logSurv: (x, [k, l]) => -((x / (l as number)) ** (k as number)),
    cdf: (x, [k, l]) => 1 - Math.exp(-((x / (l as number)) ** (k as number))),
    spec: ([k, l]) => ({ family: 'weibull', shape: k as number, scale: l as number }),
    mean: ([k, l]) => (l as number) * Math.exp(lnGamma(1 + 1 / (k as number))),
  },
  lognormal: {
    name: 'lognormal',
    paramNames: ['mu', 'sigma'],
    toParams: (u) => [u[0] as number, Math.exp(u[1] as number)],
    fromParams: (p) => [p[0] as number, Math.log(p[1] as number)],
    start: (o) => {
      const m = moments(o);
      return [m.logMean, m.logSd];
    },
    logPdf: (x, [mu, s]) => {
      const z = (Math.log(x) - (mu as number)) / (s as number);
      return -Math.log(x) - Math.log(s as number) - LN_SQRT_2PI - 0.5 * z * z;
    },
    logSurv: (x, [mu, s]) => logSafe(1 - normalCdf((Math.log(x) - (mu as number)) / (s as number))),
    cdf: (x, [mu, s]) => normalCdf((Math.log(x) - (mu as number)) / (s as number)),
    spec: ([mu, s]) => ({ family: 'lognormal', mu: mu as number, sigma: s as number }),
    mean: ([mu, s]) => Math.exp((mu as number) + (s as number) ** 2 / 2),
  },
  gamma: {
    name: 'gamma',
    paramNames: ['shape', 'scale'],
    toParams: (u) => u.map(Math.exp),
    fromParams: (p) => p.map(Math.log),
    start: (o) => {
      const m = moments(o);
      const k = Math.max(0.1, (m.mean / m.sd) ** 2);
      return [k, m.mean / k];
    },
    logPdf: (x, [k, t]) =>
      ((k as number) - 1) * Math.log(x) -
      x / (t as number) -
      lnGamma(k as number) -
      (k as number) * Math.log(t as number),
    logSurv: (x, [k, t]) => logSafe(1 - gammaP(k as number, x / (t as number))),
    cdf: (x, [k, t]) => gammaP(k as number, x / (t as number)),
    spec: ([k, t]) => ({ family: 'gamma', shape: k as number, scale: t as number }),
    mean: ([k, t]) => (k as number) * (t as number),
  },
  normal: {
    name: 'normal',
    paramNames: ['mean', 'sd'],
    toParams: (u) => [u[0] as number, Math.exp(u[1] as number)],
    fromParams: (p) => [p[0] as number, Math.log(p[1] as number)],
    start: (o) => {
      const m = moments(o);
      return [m.mean, m.sd];
    },
    logPdf: (x, [m, s]) => {
      const z = (x - (m as number)) / (s as number);
      return -Math.log(s as number) - LN_SQRT_2PI - 0.5 * z * z;
    },
    logSurv: (x, [m, s]) => logSafe(1 - normalCdf((x - (m as number)) / (s as number))),
    cdf: (x, [m, s]) => normalCdf((x - (m as number)) / (s as number)),
    spec: ([m, s]) => ({ family: 'normal', mean: m as number, sd: s as number }),
    mean: ([m]) => m as number,
  },
};

function logLik(fam: Family, p: number[], o: Observations): number {
  let ll = 0;
  for (const x of o.exact) ll += fam.logPdf(Math.max(x, 1e-9), p);
  for (const x of o.censored) ll += fam.logSurv(Math.max(x, 1e-9), p);
  return Number.isFinite(ll) ? ll : Number.NEGATIVE_INFINITY;
}

/** Standard errors from the inverse of the numerical Hessian of −ln L in natural parameters. */
function standardErrors(fam: Family, p: number[], o: Observations): number[] {
  const k = p.length;
  const h = p.map((v) => 1e-4 * Math.max(Math.abs(v), 1e-3));
  const f = (q: number[]): number => -logLik(fam, q, o);
  const H: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = i; j < k; j++) {
      const at = (di: number, dj: number): number => {
        const q = p.slice();
        q[i] = (q[i] as number) + di * (h[i] as number);
        q[j] = (q[j] as number) + dj * (h[j] as number);
        return f(q);
      };
      const v = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * (h[i] as number) * (h[j] as number));
      (H[i] as number[])[j] = v;
      (H[j] as number[])[i] = v;
    }
  }
  if (k === 1) return [1 / Math.sqrt((H[0] as number[])[0] as number)];
  const [a, b] = H[0] as [number, number];
  const [, d] = H[1] as [number, number];
  const det = a * d - b * b;
  return [Math.sqrt(d / det), Math.sqrt(a / det)];
}

function ksDistance(fam: Family, p: number[], exact: number[]): number {
  const xs = exact.slice().sort((a, b) => a - b);
  const n = xs.length;
  let dmax = 0;
  for (let i = 0; i < n; i++) {
    const F = fam.cdf(xs[i] as number, p);
    dmax = Math.max(dmax, Math.abs(F - i / n), Math.abs((i + 1) / n - F));
  }
  return dmax;
}

/**
 * Fits each family by maximum likelihood (right-censored observations enter through the
 * survival function), then picks the one with the lowest AICc (AIC corrected for small samples,
 * which keeps a handful of failures from choosing a two-parameter family on noise). Exponential has a closed form;
 * the others are found by Nelder–Mead on log-parameters.
 *
 * @throws GembaError GEMBA_SIM_CALIBRATION with fewer than 2 exact observations (1 for an
 *   exponential-only fit)
 */
export function fitDistribution(
  obs: Observations,
  families: readonly FitFamily[] = ['exponential', 'weibull', 'lognormal', 'gamma'],
  what = 'durations',
): FitResult {
  const exact = obs.exact.filter((x) => x > 0 && Number.isFinite(x));
  const censored = obs.censored.filter((x) => x > 0 && Number.isFinite(x));
  const onlyExp = families.length === 1 && families[0] === 'exponential';
  if (exact.length < (onlyExp ? 1 : 2)) {
    throw new GembaError(
      'GEMBA_SIM_CALIBRATION',
      `cannot fit ${what}: ${exact.length} complete observations (need ≥ ${onlyExp ? 1 : 2})`,
    );
  }
  const o = { exact, censored };
  const candidates: FamilyFit[] = [];
  for (const name of families) {
    const fam = FAMILIES[name];
    let p: number[];
    if (name === 'exponential') {
      p = [(exact.reduce((a, v) => a + v, 0) + censored.reduce((a, v) => a + v, 0)) / exact.length];
    } else {
      const r = nelderMead((u) => -logLik(fam, fam.toParams(u), o), fam.fromParams(fam.start(o)));
      // A restart from the first optimum polishes the simplex (standard practice for Nelder–Mead).
      const r2 = nelderMead((u) => -logLik(fam, fam.toParams(u), o), r.x, { step: 0.05 });
      p = fam.toParams(r2.x);
    }
    const ll = logLik(fam, p, o);
    if (!Number.isFinite(ll)) continue;
    const se = standardErrors(fam, p, o);
    const params: Record<string, { value: number; se: number }> = {};
    fam.paramNames.forEach((nm, i) => {
      params[nm] = { value: p[i] as number, se: se[i] as number };
    });
    candidates.push({
      family: name,
      spec: fam.spec(p),
      params,
      logLikelihood: ll,
      aic: 2 * p.length - 2 * ll,
      aicc: 2 * p.length - 2 * ll + aiccPenalty(p.length, exact.length + censored.length),
      ks: ksDistance(fam, p, exact),
      mean: fam.mean(p),
    });
  }
  candidates.sort((a, b) => a.aicc - b.aicc);
  return { best: candidates[0] as FamilyFit, candidates, n: exact.length, censored: censored.length };
}
