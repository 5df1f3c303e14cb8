import { describe, expect, it } from 'vitest';
import { parseDuration, parseStart } from './plant.ts';

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

describe('gemba plant --start', () => {
  it('parses an ISO 8601 time with a zone', () => {
    expect(parseStart('2026-01-05T06:00:00+01:00')).toBe(Date.UTC(2026, 0, 5, 5, 0, 0));
    expect(parseStart('2026-01-05T05:00Z')).toBe(Date.UTC(2026, 0, 5, 5, 0, 0));
    expect(parseStart('2026-01-05T05:00:00.250Z')).toBe(Date.UTC(2026, 0, 5, 5, 0, 0, 250));
  });

  it('refuses a time without a zone, or no time at all, with a clear message', () => {
    expect(() => parseStart('2026-01-05 06:00')).toThrow(
      "--start must be an ISO 8601 time with a zone, e.g. 2026-01-05T06:00:00+01:00, got '2026-01-05 06:00'",
    );
    expect(() => parseStart('2026-01-05T06:00:00')).toThrow(/--start must be an ISO 8601 time with a zone/);
  });
});
