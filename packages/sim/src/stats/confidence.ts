import { GembaError } from '@gemba/core';

/** A sample mean with its 95 % confidence interval (Student t). */
export interface Estimate {
  mean: number;
  /** Half-width of the 95 % confidence interval (NaN with fewer than 2 values). */
  halfWidth: number;
  low: number;
  high: number;
  /** Sample standard deviation. */
  sd: number;
  n: number;
}

/**
 * Two-sided Student t quantile t_{1−α/2, df} by the Hill (1970) approximation; exact to ~1e-6
 * for df ≥ 1 at the usual levels.
 */
export function studentT(df: number, confidence = 0.95): number {
  if (!(df >= 1)) return Number.NaN;
  const p = 1 - confidence; // two-sided tail mass
  if (df === 1) return Math.tan((Math.PI * (1 - p)) / 2);
  if (df === 2) return Math.sqrt(2 / (p * (2 - p)) - 2);
  const a = 1 / (df - 0.5);
  const b = 48 / (a * a);
  let c = ((20700 * a) / b - 98) * a - 16;
  c = ((c * a) / b + 96.36) * a * a * a * a;
  const d = df * Math.sqrt((a * Math.PI) / 2);
  let x = (d * p) ** (2 / df);
  let y: number;
  if (x > 0.05 + a) {
    const z = normalQuantile(p * 0.5);
    y = z * z;
    if (df < 5) c += 0.3 * (df - 4.5) * (z + 0.6);
    c = (((0.05 * d * z - 5) * z - 7) * z - 2) * z + b + c;
    y = (((((0.4 * y + 6.3) * y + 36) * y + 94.5) / c - y - 3) / b + 1) * z;
    y = a * y * y;
    y = y > 0.002 ? Math.exp(y) - 1 : 0.5 * y * y + y;
  } else {
    y =
      ((1 / (((df + 6) / (df * x) - 0.089 * d - 0.822) * (df + 2) * 3) + 0.5 / (df + 4)) * x - 1) * (df + 1);
    y = y / (df + 2) + 1 / x;
  }
  x = y;
  return Math.sqrt(df * x);
}

/** Standard normal quantile (Acklam's algorithm, relative error < 1.15e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    return Number.NaN;
  }
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/**
 * Mean and 95 % confidence interval of independent values (e.g. one per replication).
 * @throws GembaError GEMBA_INVALID_ARGUMENT on an empty list
 */
export function estimate(values: readonly number[], confidence = 0.95): Estimate {
  const n = values.length;
  if (n === 0) throw new GembaError('GEMBA_INVALID_ARGUMENT', 'cannot estimate a mean from no values');
  let s = 0;
  for (const v of values) s += v;
  const mean = s / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN;
  const halfWidth = n > 1 ? (studentT(n - 1, confidence) * sd) / Math.sqrt(n) : Number.NaN;
  return { mean, halfWidth, low: mean - halfWidth, high: mean + halfWidth, sd, n };
}

/**
 * The paired difference scenario − baseline, per replication (common random numbers), with its
 * 95 % confidence interval.
 * @throws GembaError GEMBA_INVALID_ARGUMENT when the lists differ in length
 */
export function pairedDifference(baseline: readonly number[], scenario: readonly number[]): Estimate {
  if (baseline.length !== scenario.length) {
    throw new GembaError(
      'GEMBA_INVALID_ARGUMENT',
      `paired lists differ in length (${baseline.length} vs ${scenario.length})`,
    );
  }
  return estimate(scenario.map((v, i) => v - (baseline[i] as number)));
}

/**
 * Batch-means estimate of a steady-state mean from one long correlated series: `batches`
 * equal batches, each batch mean treated as independent.
 */
export function batchMeans(series: ArrayLike<number>, batches = 20): Estimate {
  const n = series.length;
  const size = Math.floor(n / batches);
  if (size < 1) return estimate(Array.from(series));
  const means: number[] = [];
  for (let b = 0; b < batches; b++) {
    let s = 0;
    for (let i = b * size; i < (b + 1) * size; i++) s += series[i] as number;
    means.push(s / size);
  }
  return estimate(means);
}
