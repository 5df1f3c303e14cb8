import { describe, expect, it } from 'vitest';
import { counterDelta } from './counter.ts';

describe('counterDelta', () => {
  it('counts increases', () => {
    expect(counterDelta(10, 13)).toBe(3);
    expect(counterDelta(5, 5)).toBe(0);
  });
  it('counts across a 16-bit wrap-around', () => {
    expect(counterDelta(65_534, 2)).toBe(4);
  });
  it('counts across a 32-bit wrap-around', () => {
    expect(counterDelta(4_294_967_295, 0)).toBe(1);
  });
  it('treats a drop that is no wrap as a reset', () => {
    expect(counterDelta(1234, 0)).toBe(0);
    expect(counterDelta(1234, 3)).toBe(3);
  });
  it('gives 0 for non-finite input', () => {
    expect(counterDelta(Number.NaN, 3)).toBe(0);
    expect(counterDelta(3, Number.POSITIVE_INFINITY)).toBe(0);
  });
});
