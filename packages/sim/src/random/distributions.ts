import { GembaError } from '@gemba/core';
import { fastExp } from './fast-exp.ts';
import type { Rng } from './rng.ts';

/**
 * A probability distribution of a non-negative duration or quantity, as plain data (JSON),
 * so line configurations can be stored, sent to worker threads and shown in reports.
 * Units are those of the quantity (seconds for durations).
 */
export type DistributionSpec =
  | { family: 'exponential'; mean: number }
  /** Normal truncated to [min, max] (default min 0) by rejection. */
  | { family: 'normal'; mean: number; sd: number; min?: number; max?: number }
  /** ln X ~ N(mu, sigma²). */
  | { family: 'lognormal'; mu: number; sigma: number }
  | { family: 'weibull'; shape: number; scale: number }
  | { family: 'gamma'; shape: number; scale: number }
  | { family: 'triangular'; min: number; mode: number; max: number }
  | { family: 'deterministic'; value: number }
  /** Draws one of the observed values with equal probability (bootstrap). */
  | { family: 'empirical'; values: number[] };

/** The family names. */
export type DistributionFamily = DistributionSpec['family'];

/** A compiled sampler: one draw per call from the given stream. */
export type Sampler = (rng: Rng) => number;

// Ziggurat tables for the standard normal (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8)), 128 layers.
const ZIG_KN = new Uint32Array(128);
const ZIG_WN = new Float64Array(128);
const ZIG_FN = new Float64Array(128);
const ZIG_R = 3.442619855899;
{
  const m1 = 2147483648.0;
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  ZIG_KN[0] = (dn / q) * m1;
  ZIG_KN[1] = 0;
  ZIG_WN[0] = q / m1;
  ZIG_WN[127] = dn / m1;
  ZIG_FN[0] = 1;
  ZIG_FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    ZIG_KN[i + 1] = (dn / tn) * m1;
    tn = dn;
    ZIG_FN[i] = Math.exp(-0.5 * dn * dn);
    ZIG_WN[i] = dn / m1;
  }
}

/**
 * Standard normal by the ziggurat method (Marsaglia & Tsang 2000): one 32-bit draw and a
 * table look-up for ~99 % of values, an exact fallback for the rest.
 */
export function standardNormal(rng: Rng): number {
  const hz = rng.nextUint32() | 0;
  const iz = hz & 127;
  if (Math.abs(hz) < (ZIG_KN[iz] as number)) return hz * (ZIG_WN[iz] as number);
  return zigguratSlow(rng, hz, iz);
}

/** The ziggurat's rejection path (~1 % of draws), after the first draw `hz` in layer `iz` missed the fast path. */
function zigguratSlow(rng: Rng, hz0: number, iz0: number): number {
  let hz = hz0;
  let iz = iz0;
  for (;;) {
    const x = hz * (ZIG_WN[iz] as number);
    if (iz === 0) {
      let xt: number;
      let y: number;
      do {
        xt = -Math.log(rng.next()) / ZIG_R;
        y = -Math.log(rng.next());
      } while (y + y < xt * xt);
      return hz > 0 ? ZIG_R + xt : -ZIG_R - xt;
    }
    const f1 = ZIG_FN[iz] as number;
    if (f1 + rng.next() * ((ZIG_FN[iz - 1] as number) - f1) < Math.exp(-0.5 * x * x)) return x;
    hz = rng.nextUint32() | 0;
    iz = hz & 127;
    if (Math.abs(hz) < (ZIG_KN[iz] as number)) return hz * (ZIG_WN[iz] as number);
  }
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 by the boost u^(1/shape). */
export function standardGamma(rng: Rng, shape: number): number {
  if (shape < 1) return standardGamma(rng, shape + 1) * rng.next() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function invalid(spec: DistributionSpec, why: string): GembaError {
  return new GembaError(
    'GEMBA_INVALID_ARGUMENT',
    `invalid ${spec.family} distribution ${JSON.stringify(spec)}: ${why}`,
  );
}

/**
 * Checks the parameters and returns a fast sampler.
 * @throws GembaError GEMBA_INVALID_ARGUMENT on parameters outside the family's domain
 */
export function compileDistribution(spec: DistributionSpec): Sampler {
  switch (spec.family) {
    case 'exponential': {
      const m = spec.mean;
      if (!(m > 0)) throw invalid(spec, 'mean must be > 0');
      return (rng) => -m * Math.log(rng.next());
    }
    case 'normal': {
      const { mean, sd } = spec;
      const lo = spec.min ?? 0;
      const hi = spec.max ?? Number.POSITIVE_INFINITY;
      if (!(sd >= 0) || !(hi > lo) || !Number.isFinite(mean))
        throw invalid(spec, 'need sd ≥ 0 and max > min');
      if (sd === 0) return () => Math.min(hi, Math.max(lo, mean));
      return (rng) => {
        for (let i = 0; i < 100; i++) {
          const x = mean + sd * standardNormal(rng);
          if (x >= lo && x <= hi) return x;
        }
        // The truncation removes almost all the mass: fall back to the nearer bound.
        return Math.abs(lo - mean) < Math.abs(hi - mean) ? lo : hi;
      };
    }
    case 'lognormal': {
      const { mu, sigma } = spec;
      if (!(sigma >= 0) || !Number.isFinite(mu)) throw invalid(spec, 'sigma must be ≥ 0');
      return (rng) => {
        // The ziggurat's fast path inlined (same draws as standardNormal).
        const hz = rng.nextUint32() | 0;
        const iz = hz & 127;
        const z =
          Math.abs(hz) < (ZIG_KN[iz] as number) ? hz * (ZIG_WN[iz] as number) : zigguratSlow(rng, hz, iz);
        return fastExp(mu + sigma * z);
      };
    }
    case 'weibull': {
      const { shape, scale } = spec;
      if (!(shape > 0 && scale > 0)) throw invalid(spec, 'shape and scale must be > 0');
      const inv = 1 / shape;
      return (rng) => scale * (-Math.log(rng.next())) ** inv;
    }
    case 'gamma': {
      const { shape, scale } = spec;
      if (!(shape > 0 && scale > 0)) throw invalid(spec, 'shape and scale must be > 0');
      return (rng) => scale * standardGamma(rng, shape);
    }
    case 'triangular': {
      const { min, mode, max } = spec;
      if (!(min <= mode && mode <= max && min < max)) throw invalid(spec, 'need min ≤ mode ≤ max, min < max');
      const fc = (mode - min) / (max - min);
      return (rng) => {
        const u = rng.next();
        return u < fc
          ? min + Math.sqrt(u * (max - min) * (mode - min))
          : max - Math.sqrt((1 - u) * (max - min) * (max - mode));
      };
    }
    case 'deterministic': {
      const v = spec.value;
      if (!(v >= 0)) throw invalid(spec, 'value must be ≥ 0');
      return () => v;
    }
    case 'empirical': {
      const vals = Float64Array.from(spec.values);
      if (vals.length === 0 || vals.some((v) => !(v >= 0))) throw invalid(spec, 'need ≥ 1 value, all ≥ 0');
      const n = vals.length;
      return (rng) => vals[Math.floor(rng.next() * n)] as number;
    }
  }
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits). */
export function lnGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const xx = x - 1;
  let a = c[0] as number;
  const t = xx + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += (c[i] as number) / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The mean of a distribution (the truncated normal's mean is approximated by its untruncated mean when truncation is negligible, else computed exactly). */
export function distributionMean(spec: DistributionSpec): number {
  switch (spec.family) {
    case 'exponential':
      return spec.mean;
    case 'normal': {
      const lo = spec.min ?? 0;
      const hi = spec.max ?? Number.POSITIVE_INFINITY;
      if (spec.sd === 0) return Math.min(hi, Math.max(lo, spec.mean));
      const a = (lo - spec.mean) / spec.sd;
      const b = (hi - spec.mean) / spec.sd;
      const z = normalCdf(b) - normalCdf(a);
      return spec.mean + (spec.sd * (normalPdf(a) - normalPdf(b))) / z;
    }
    case 'lognormal':
      return Math.exp(spec.mu + (spec.sigma * spec.sigma) / 2);
    case 'weibull':
      return spec.scale * Math.exp(lnGamma(1 + 1 / spec.shape));
    case 'gamma':
      return spec.shape * spec.scale;
    case 'triangular':
      return (spec.min + spec.mode + spec.max) / 3;
    case 'deterministic':
      return spec.value;
    case 'empirical':
      return spec.values.reduce((s, v) => s + v, 0) / spec.values.length;
  }
}

/**
 * The distribution of `factor · X` (e.g. cycle times at a higher speed: factor = 1/speed).
 * @throws GembaError GEMBA_INVALID_ARGUMENT when factor ≤ 0
 */
export function scaleDistribution(spec: DistributionSpec, factor: number): DistributionSpec {
  if (!(factor > 0))
    throw new GembaError('GEMBA_INVALID_ARGUMENT', `cannot scale a distribution by ${factor}`);
  switch (spec.family) {
    case 'exponential':
      return { family: 'exponential', mean: spec.mean * factor };
    case 'normal': {
      const out: DistributionSpec = { family: 'normal', mean: spec.mean * factor, sd: spec.sd * factor };
      if (spec.min !== undefined) out.min = spec.min * factor;
      if (spec.max !== undefined) out.max = spec.max * factor;
      return out;
    }
    case 'lognormal':
      return { family: 'lognormal', mu: spec.mu + Math.log(factor), sigma: spec.sigma };
    case 'weibull':
      return { family: 'weibull', shape: spec.shape, scale: spec.scale * factor };
    case 'gamma':
      return { family: 'gamma', shape: spec.shape, scale: spec.scale * factor };
    case 'triangular':
      return {
        family: 'triangular',
        min: spec.min * factor,
        mode: spec.mode * factor,
        max: spec.max * factor,
      };
    case 'deterministic':
      return { family: 'deterministic', value: spec.value * factor };
    case 'empirical':
      return { family: 'empirical', values: spec.values.map((v) => v * factor) };
  }
}

/** Standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal CDF (Φ) via {@link erfc}; absolute error below 1e-7. */
export function normalCdf(z: number): number {
  if (z === Number.POSITIVE_INFINITY) return 1;
  if (z === Number.NEGATIVE_INFINITY) return 0;
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function (Numerical Recipes erfcc; fractional error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
