import type { ShiftDef } from '@gemba/core';

/** One occurrence of a shift: its time and its planned breaks, ms since epoch, [start, end). */
export interface ShiftOccurrence {
  shift: string;
  startMs: number;
  endMs: number;
  breaks: Array<{ startMs: number; endMs: number }>;
}

const DAY_MS = 86_400_000;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function parseHhmm(s: string): number {
  const [h, m] = s.split(':');
  return (Number(h) * 60 + Number(m)) * 60_000;
}

/**
 * The shifts of a model laid out in time, in the model's time zone (daylight saving handled).
 * Planned operation time (ISO 22400-2 §5.4, POT) is shift time minus planned breaks; with no
 * shifts in the model, all time is planned.
 */
export class ShiftCalendar {
  readonly #shifts: readonly ShiftDef[];
  readonly #fmt: Intl.DateTimeFormat;
  readonly #days = new Map<number, readonly ShiftOccurrence[]>();

  constructor(shifts: readonly ShiftDef[], timeZone: string) {
    this.#shifts = shifts;
    this.#fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** True when the model has shifts. */
  get hasShifts(): boolean {
    return this.#shifts.length > 0;
  }

  /** Local wall time as if it were UTC, for `utcMs`. */
  #localAsUtc(utcMs: number): number {
    const p: Record<string, number> = {};
    for (const part of this.#fmt.formatToParts(new Date(utcMs))) {
      if (part.type !== 'literal') p[part.type] = Number(part.value);
    }
    return Date.UTC(
      p.year ?? 1970,
      (p.month ?? 1) - 1,
      p.day ?? 1,
      p.hour ?? 0,
      p.minute ?? 0,
      p.second ?? 0,
    );
  }

  /** The UTC time of a local wall time given as if it were UTC. */
  #utcOfLocal(localMs: number): number {
    const off1 = this.#localAsUtc(localMs) - localMs;
    const guess = localMs - off1;
    const off2 = this.#localAsUtc(guess) - guess;
    return off2 === off1 ? guess : localMs - off2;
  }

  /** The shift occurrences starting on one local day (days since the epoch), cached. */
  #day(day: number): readonly ShiftOccurrence[] {
    const cached = this.#days.get(day);
    if (cached !== undefined) return cached;
    const out: ShiftOccurrence[] = [];
    const dayLocal = day * DAY_MS;
    const weekday = WEEKDAYS[new Date(dayLocal).getUTCDay()] as (typeof WEEKDAYS)[number];
    for (const s of this.#shifts) {
      if (!s.days.includes(weekday)) continue;
      const startOff = parseHhmm(s.start);
      let endOff = parseHhmm(s.end);
      if (endOff <= startOff) endOff += DAY_MS;
      const startMs = this.#utcOfLocal(dayLocal + startOff);
      const endMs = this.#utcOfLocal(dayLocal + endOff);
      const breaks = s.breaks.map((b) => {
        let off = parseHhmm(b.start);
        if (off < startOff) off += DAY_MS;
        const bs = this.#utcOfLocal(dayLocal + off);
        return { startMs: bs, endMs: Math.min(endMs, bs + b.durationMin * 60_000) };
      });
      out.push({ shift: s.id, startMs, endMs, breaks });
    }
    if (this.#days.size > 1000) this.#days.clear();
    this.#days.set(day, out);
    return out;
  }

  /** Shift occurrences overlapping [fromMs, toMs), in time order. */
  occurrences(fromMs: number, toMs: number): ShiftOccurrence[] {
    const out: ShiftOccurrence[] = [];
    if (this.#shifts.length === 0 || !(toMs > fromMs)) return out;
    // Local days that can hold such a shift: time-zone offsets lie within ±14 h.
    const firstDay = Math.floor((fromMs - 14 * 3_600_000) / DAY_MS) - 1;
    const lastDay = Math.floor((toMs + 14 * 3_600_000) / DAY_MS) + 1;
    for (let day = firstDay; day <= lastDay; day++) {
      for (const o of this.#day(day)) {
        if (o.endMs <= fromMs || o.startMs >= toMs) continue;
        out.push(o);
      }
    }
    out.sort((a, b) => a.startMs - b.startMs);
    return out;
  }

  /** The shift occurrence running at `atMs`, or undefined. */
  current(atMs: number): ShiftOccurrence | undefined {
    return this.occurrences(atMs, atMs + 1).find((o) => o.startMs <= atMs && atMs < o.endMs);
  }

  /**
   * Planned operation time within [fromMs, toMs) as sorted, disjoint intervals: shift time
   * minus breaks, or the whole window when the model has no shifts.
   */
  planned(fromMs: number, toMs: number): Array<[number, number]> {
    if (!(toMs > fromMs)) return [];
    if (!this.hasShifts) return [[fromMs, toMs]];
    const raw: Array<[number, number]> = [];
    for (const o of this.occurrences(fromMs, toMs)) {
      let pieces: Array<[number, number]> = [[Math.max(o.startMs, fromMs), Math.min(o.endMs, toMs)]];
      for (const b of o.breaks) {
        const next: Array<[number, number]> = [];
        for (const [s, e] of pieces) {
          if (b.endMs <= s || b.startMs >= e) next.push([s, e]);
          else {
            if (b.startMs > s) next.push([s, b.startMs]);
            if (b.endMs < e) next.push([b.endMs, e]);
          }
        }
        pieces = next;
      }
      for (const p of pieces) if (p[1] > p[0]) raw.push(p);
    }
    raw.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const p of raw) {
      const last = merged[merged.length - 1];
      if (last !== undefined && p[0] <= last[1]) last[1] = Math.max(last[1], p[1]);
      else merged.push([p[0], p[1]]);
    }
    return merged;
  }
}

/** Total length of the overlap of [s, e) with sorted disjoint intervals, ms. */
export function overlapMs(s: number, e: number, intervals: ReadonlyArray<readonly [number, number]>): number {
  let total = 0;
  for (const [a, b] of intervals) {
    if (b <= s) continue;
    if (a >= e) break;
    total += Math.min(b, e) - Math.max(a, s);
  }
  return total;
}

/** True when `t` lies in one of sorted disjoint intervals. */
export function inIntervals(t: number, intervals: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [a, b] of intervals) {
    if (t < a) return false;
    if (t < b) return true;
  }
  return false;
}
