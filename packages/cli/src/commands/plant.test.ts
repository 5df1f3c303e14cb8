import { describe, expect, it } from 'vitest';
import { parseDuration } from './plant.ts';

describe('gemba plant --until', () => {
  it('parses plant-time durations', () => {
    expect(parseDuration('8h')).toBe(8 * 3_600_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2.5h')).toBe(9_000_000);
    expect(parseDuration('45')).toBe(45_000);
  });

  it('rejects anything else with a clear message', () => {
    expect(() => parseDuration('8 hours')).toThrow(/invalid duration '8 hours'/);
    expect(() => parseDuration('-1h')).toThrow(/invalid duration/);
  });
});
