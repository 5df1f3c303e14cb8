/**
 * Minimises `f` by the Nelder–Mead simplex method (standard coefficients 1, 2, 0.5, 0.5).
 * Returns the best point and value. Used for maximum-likelihood fits with censoring, where no
 * closed form exists; parameters are passed on a log scale by the callers so the search is
 * unconstrained.
 */
export function nelderMead(
  f: (x: number[]) => number,
  x0: number[],
  options: { step?: number; maxIter?: number; tol?: number } = {},
): { x: number[]; value: number; iterations: number } {
  const n = x0.length;
  const step = options.step ?? 0.2;
  const maxIter = options.maxIter ?? 400 * n;
  const tol = options.tol ?? 1e-10;
  let simplex: { x: number[]; v: number }[] = [{ x: x0.slice(), v: f(x0) }];
  for (let i = 0; i < n; i++) {
    const x = x0.slice();
    x[i] = (x[i] as number) + (x[i] === 0 ? step : step * Math.max(1, Math.abs(x[i] as number)));
    simplex.push({ x, v: f(x) });
  }
  const val = (x: number[]): number => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let it = 0;
  for (; it < maxIter; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0] as { x: number[]; v: number };
    const worst = simplex[n] as { x: number[]; v: number };
    if (Math.abs(worst.v - best.v) <= tol * (Math.abs(best.v) + tol)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        centroid[j] = (centroid[j] as number) + ((simplex[i] as { x: number[] }).x[j] as number) / n;
    const along = (t: number): number[] => centroid.map((c, j) => c + t * ((worst.x[j] as number) - c));
    const xr = along(-1);
    const vr = val(xr);
    const second = simplex[n - 1] as { v: number };
    if (vr < best.v) {
      const xe = along(-2);
      const ve = val(xe);
      simplex[n] = ve < vr ? { x: xe, v: ve } : { x: xr, v: vr };
    } else if (vr < second.v) {
      simplex[n] = { x: xr, v: vr };
    } else {
      const xc = vr < worst.v ? along(-0.5) : along(0.5);
      const vc = val(xc);
      if (vc < Math.min(vr, worst.v)) simplex[n] = { x: xc, v: vc };
      else {
        simplex = simplex.map((p, i) => {
          if (i === 0) return p;
          const x = p.x.map((xi, j) => (best.x[j] as number) + 0.5 * (xi - (best.x[j] as number)));
          return { x, v: val(x) };
        });
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  const b = simplex[0] as { x: number[]; v: number };
  return { x: b.x, value: b.v, iterations: it };
}
