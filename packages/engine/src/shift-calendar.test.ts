import { describe, expect, it } from 'vitest';
import { ShiftCalendar } from './shift-calendar.ts';

const shifts = [
  {
    id: 'early',
    start: '06:00',
    end: '14:00',
    days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const,
    breaks: [{ start: '10:00', durationMin: 30 }],
  },
  {
    id: 'night',
    start: '22:00',
    end: '06:00',
    days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const,
    breaks: [{ start: '02:00', durationMin: 30 }],
  },
].map((s) => ({ ...s, days: [...s.days] }));

describe('ShiftCalendar', () => {
  const cal = new ShiftCalendar(shifts, 'Europe/Berlin');
  it('lays shifts out in the model time zone, across midnight, with breaks', () => {
    // Monday 2026-01-05, Berlin is UTC+1.
    const day = Date.UTC(2026, 0, 5, 0, 0);
    const occ = cal.occurrences(day, day + 86_400_000);
    const early = occ.find((o) => o.shift === 'early' && o.startMs >= day);
    expect(early?.startMs).toBe(Date.UTC(2026, 0, 5, 5, 0));
    expect(early?.breaks[0]).toEqual({
      startMs: Date.UTC(2026, 0, 5, 9, 0),
      endMs: Date.UTC(2026, 0, 5, 9, 30),
    });
    const night = occ.find((o) => o.shift === 'night' && o.startMs >= Date.UTC(2026, 0, 5, 12));
    expect(night?.endMs).toBe(Date.UTC(2026, 0, 6, 5, 0));
    expect(night?.breaks[0]?.startMs).toBe(Date.UTC(2026, 0, 6, 1, 0));
  });
  it('follows daylight saving time', () => {
    const summer = cal.current(Date.UTC(2026, 6, 6, 4, 30)); // Monday 06:30 CEST
    expect(summer?.shift).toBe('early');
    expect(summer?.startMs).toBe(Date.UTC(2026, 6, 6, 4, 0));
  });
  it('gives planned time as shifts minus breaks, none at weekends', () => {
    const from = Date.UTC(2026, 0, 5, 5, 0);
    const planned = cal.planned(from, from + 8 * 3_600_000);
    expect(planned.reduce((a, [s, e]) => a + e - s, 0)).toBe(7.5 * 3_600_000);
    const sat = Date.UTC(2026, 0, 10, 5, 0);
    expect(cal.planned(sat, sat + 8 * 3_600_000)).toEqual([]);
  });
  it('plans all time without shifts', () => {
    expect(new ShiftCalendar([], 'UTC').planned(0, 10)).toEqual([[0, 10]]);
  });
});
