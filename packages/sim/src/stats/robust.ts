/** Median of a non-empty list (the list is not changed). */
export function median(xs: readonly number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? (s[n >> 1] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

/**
 * A standard deviation robust to rare outliers: 1.4826 × the median absolute deviation (the
 * factor makes it the standard deviation for normal data). `xs` must not be empty.
 */
export function robustSd(xs: readonly number[]): number {
  const med = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - med)));
}
