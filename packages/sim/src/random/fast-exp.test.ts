import { describe, expect, it } from 'vitest';
import { fastExp } from './fast-exp.ts';
import { Rng } from './rng.ts';

const bits = new Float64Array(1);
const asInt = new BigInt64Array(bits.buffer);
/** Distance in units in the last place between two positive finite doubles. */
function ulps(a: number, b: number): number {
  bits[0] = a;
  const x = asInt[0] as bigint;
  bits[0] = b;
  const d = x - (asInt[0] as bigint);
  return Number(d < 0n ? -d : d);
}

describe('fastExp', () => {
  it('is within 2 ulp of Math.exp over the whole range and equal at the edges', () => {
    const rng = new Rng(5, 'exp');
    let worst = 0;
    // Small arguments (a lognormal cycle time's mu + sigma·z), then the whole finite range.
    for (let i = 0; i < 1_000_000; i++) {
      const x = i < 500_000 ? 3 + (rng.next() - 0.5) * 4 : (rng.next() - 0.5) * 1398;
      worst = Math.max(worst, ulps(fastExp(x), Math.exp(x)));
    }
    // Around the multiples of ln2/128, where the reduction switches table entries.
    for (let k = -5000; k <= 5000; k++) {
      const x = (k * Math.LN2) / 128;
      for (const e of [-1e-15, 0, 1e-15]) worst = Math.max(worst, ulps(fastExp(x + e), Math.exp(x + e)));
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(fastExp(0)).toBe(1);
    for (const x of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 700, -700, 709.7, -745])
      expect(fastExp(x)).toBe(Math.exp(x));
  });
});
