/**
 * A step signal: each value holds from its time until the next (a sampled level, a setpoint).
 * Times in ms, in order.
 */
export type StepSeries = readonly { t: number; v: number }[];

/** Index of the last point at or before t, or −1. */
export function indexAt(series: readonly { t: number }[], t: number): number {
  let lo = 0;
  let hi = series.length - 1;
  if (hi < 0 || (series[0] as { t: number }).t > t) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((series[mid] as { t: number }).t <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The value of a step signal at time t (the last point at or before t), or undefined. */
export function stepAt(series: StepSeries, t: number): number | undefined {
  const i = indexAt(series, t);
  return i < 0 ? undefined : (series[i] as { v: number }).v;
}

/** The integral of a step signal from its first point to each point (for {@link stepMean}). */
export function stepIntegral(series: StepSeries): Float64Array {
  const cum = new Float64Array(series.length);
  for (let i = 1; i < series.length; i++) {
    const p = series[i - 1] as { t: number; v: number };
    cum[i] = (cum[i - 1] as number) + p.v * ((series[i] as { t: number }).t - p.t);
  }
  return cum;
}

/**
 * Time-weighted mean of a step signal over [a, b] (the last point before `a` holds until the
 * next), using `cum` = {@link stepIntegral} of it; undefined before the first point.
 */
export function stepMean(series: StepSeries, cum: Float64Array, a: number, b: number): number | undefined {
  if (!(b > a)) return stepAt(series, b);
  const ia = indexAt(series, a);
  const ib = indexAt(series, b);
  if (ia < 0 || ib < 0) return undefined;
  const integ = (i: number, t: number): number =>
    (cum[i] as number) + (series[i] as { v: number }).v * (t - (series[i] as { t: number }).t);
  return (integ(ib, b) - integ(ia, a)) / (b - a);
}
