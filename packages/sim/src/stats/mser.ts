/**
 * MSER-5 warm-up detection (White 1997; Franklin & White 2008): average the output series in
 * batches of 5, then choose the truncation point d (in batches, searched over the first half)
 * that minimises the marginal standard error
 *   MSER(d) = Σ_{i>d} (Z_i − Z̄_d)² / (n − d)².
 * Returns the number of ORIGINAL observations to discard (a multiple of 5).
 */
export function mser5(series: ArrayLike<number>): number {
  const batch = 5;
  const m = Math.floor(series.length / batch);
  if (m < 4) return 0;
  const z = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let k = 0; k < batch; k++) s += series[j * batch + k] as number;
    z[j] = s / batch;
  }
  // Suffix sums let every candidate d be scored in O(1).
  const suf = new Float64Array(m + 1);
  const suf2 = new Float64Array(m + 1);
  for (let j = m - 1; j >= 0; j--) {
    const v = z[j] as number;
    suf[j] = (suf[j + 1] as number) + v;
    suf2[j] = (suf2[j + 1] as number) + v * v;
  }
  let best = 0;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let d = 0; d <= Math.floor(m / 2); d++) {
    const k = m - d;
    const s = suf[d] as number;
    const sse = (suf2[d] as number) - (s * s) / k;
    const score = sse / (k * k);
    if (score < bestScore) {
      bestScore = score;
      best = d;
    }
  }
  return best * batch;
}
