import type { Sample } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { standardNormal } from '../random/distributions.ts';
import { Rng } from '../random/rng.ts';
import { findDisturbances } from './oven-fit.ts';

const T0 = Date.UTC(2026, 0, 5);
const H = 3_600_000;

describe('findDisturbances', () => {
  it('finds a heater fault as one episode with its profile, and not the response to a setpoint change', () => {
    const rng = new Rng(3, 'zone');
    const temps: Sample[] = [];
    const setpoints: Sample[] = [{ signal: 'sp', ts: T0, value: 180, quality: 'good' }];
    setpoints.push({ signal: 'sp', ts: T0 + 6 * H, value: 175, quality: 'good' });
    for (let t = T0; t < T0 + 10 * H; t += 1000) {
      const sp = t < T0 + 6 * H ? 180 : 175;
      // A fault at 2 h: 15 °C low for 20 min. After the setpoint change at 6 h the zone takes
      // 5 min (τ 60 s) to follow.
      const fault = t >= T0 + 2 * H && t < T0 + 2 * H + 1_200_000 ? -15 : 0;
      const lag = t >= T0 + 6 * H ? 5 * Math.exp(-(t - T0 - 6 * H) / 60_000) : 0;
      temps.push({
        signal: 'T',
        ts: t,
        value: sp + lag + fault + 0.2 * standardNormal(rng),
        quality: 'good',
      });
    }
    const d = findDisturbances(temps, setpoints, { fromMs: T0, toMs: T0 + 10 * H });
    expect(d?.profiles).toHaveLength(1);
    expect(Math.abs((d?.startsMs[0] ?? 0) - (T0 + 2 * H))).toBeLessThanOrEqual(30_000);
    expect(d?.profiles[0]?.length).toBe(40);
    expect(Math.min(...(d?.profiles[0] ?? [0]))).toBeCloseTo(-15, 0);
    expect((d?.ratePerS ?? 0) * 3600).toBeCloseTo(1 / 10, 1);
  });
});
