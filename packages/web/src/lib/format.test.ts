import { describe, expect, it } from 'vitest';
import { fmtDuration, fmtValue, outOfNormal, plantLocalToMs, valueStatus } from './format.ts';
import type { SignalMeta, ValueEntry } from './types.ts';

const meta = (role: string, periodMs?: number): SignalMeta => ({
  path: 'a/b',
  name: 'b',
  asset: 'a',
  dataType: 'float',
  role,
  writable: false,
  normal: { min: 175, max: 185 },
  ...(periodMs === undefined ? {} : { periodMs }),
});
const entry = (value: number | null, ts: number, quality: ValueEntry['quality'] = 'good'): ValueEntry => ({
  kind: 'value',
  path: 'a/b',
  value,
  ts,
  quality,
  seq: 1,
});

describe('dashboard formatting', () => {
  it('converts plant-local wall time to UTC across daylight saving', () => {
    expect(plantLocalToMs('2026-01-05T06:00', 'Europe/Berlin')).toBe(Date.parse('2026-01-05T05:00:00Z'));
    expect(plantLocalToMs('2026-07-01T06:00', 'Europe/Berlin')).toBe(Date.parse('2026-07-01T04:00:00Z'));
    expect(plantLocalToMs('nonsense', 'UTC')).toBeNaN();
  });

  it('never lets stale, bad or missing values look live', () => {
    const now = 1_000_000;
    expect(valueStatus(undefined, meta('process_value', 1000), now)).toBe('no data');
    expect(valueStatus(entry(null, 0), meta('process_value', 1000), now)).toBe('no data');
    expect(valueStatus(entry(180, now - 500, 'bad'), meta('process_value', 1000), now)).toBe('bad');
    expect(valueStatus(entry(180, now - 60_000), meta('process_value', 1000), now)).toBe('stale');
    expect(valueStatus(entry(180, now - 500), meta('process_value', 1000), now)).toBeNull();
    // An accelerated plant clock (×60): a minute of plant time is a second of wall time.
    expect(valueStatus(entry(180, now - 60_000), meta('process_value', 1000), now, 60)).toBeNull();
    expect(valueStatus(entry(180, now - 700_000), meta('process_value', 1000), now, 60)).toBe('stale');
    // Counters are reported by exception: silence is not staleness.
    expect(valueStatus(entry(12, now - 600_000), meta('part_counter', 1000), now)).toBeNull();
    expect(valueStatus(entry(180, now - 500, 'uncertain'), meta('process_value', 1000), now)).toBe(
      'uncertain',
    );
  });

  it('formats values with units, ranges and durations', () => {
    expect(fmtValue(181.234, '°C')).toBe('181 °C');
    expect(fmtValue(4.5, 'mm/s')).toBe('4.50 mm/s');
    expect(fmtValue(12, 'parts', 0)).toBe('12 parts');
    expect(fmtValue(null, 'A')).toBe('—');
    expect(fmtValue(true)).toBe('ON');
    expect(outOfNormal(190, meta('process_value'))).toBe(true);
    expect(outOfNormal(180, meta('process_value'))).toBe(false);
    expect(fmtDuration(42_000)).toBe('42 s');
    expect(fmtDuration(3_900_000)).toBe('1 h 05 min');
    expect(fmtDuration(-5)).toBe('0 s');
  });
});
