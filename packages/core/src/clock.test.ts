import { describe, expect, it } from 'vitest';
import { AcceleratedClock, ManualClock } from './clock.ts';

describe('ManualClock', () => {
  it('fires timers in time order at their due time', () => {
    const c = new ManualClock(0);
    const fired: [string, number][] = [];
    c.setTimeout(() => fired.push(['b', c.now()]), 20);
    c.setTimeout(() => fired.push(['a', c.now()]), 10);
    const h = c.setTimeout(() => fired.push(['x', c.now()]), 15);
    c.clearTimeout(h);
    c.setTimeout(() => c.setTimeout(() => fired.push(['nested', c.now()]), 5), 12);
    c.advance(30);
    expect(fired).toEqual([
      ['a', 10],
      ['nested', 17],
      ['b', 20],
    ]);
    expect(c.now()).toBe(30);
  });

  it('refuses to go backwards', () => {
    const c = new ManualClock(100);
    expect(() => c.advance(-1)).toThrow(expect.objectContaining({ code: 'GEMBA_CLOCK_BACKWARDS' }));
    expect(() => c.set(50)).toThrow(expect.objectContaining({ code: 'GEMBA_CLOCK_BACKWARDS' }));
  });
});

describe('AcceleratedClock', () => {
  it('runs faster than real time', async () => {
    const c = new AcceleratedClock(1000, 0);
    const t0 = performance.now();
    await c.sleep(20_000); // 20 s of clock time = 20 ms wall
    expect(c.now()).toBeGreaterThanOrEqual(20_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('rejects a non-positive speed', () => {
    expect(() => new AcceleratedClock(0)).toThrow(
      expect.objectContaining({ code: 'GEMBA_INVALID_ARGUMENT' }),
    );
  });
});
