/** Counter widths tried for wrap-around, smallest first (16- and 32-bit registers). */
const WRAP_WIDTHS = [65_536, 4_294_967_296] as const;

/**
 * The increase of a monotonically increasing counter from `last` to `next`.
 * - `next >= last`: the difference.
 * - `next < last` with `last` in the top 10 % of a 16- or 32-bit range and `next` in its bottom
 *   10 %: a wrap-around, counted across the wrap (`next + width - last`).
 * - otherwise a reset (the counter was set back): `next` parts were made since the reset.
 * Non-finite inputs give 0.
 */
export function counterDelta(last: number, next: number): number {
  if (!Number.isFinite(last) || !Number.isFinite(next)) return 0;
  if (next >= last) return next - last;
  for (const w of WRAP_WIDTHS) {
    if (last < w && last >= w * 0.9 && next < w * 0.1) return next + w - last;
  }
  return Math.max(0, next);
}
