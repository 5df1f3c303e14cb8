import type { MachineState } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { activePeriods, computeBottleneck } from './bottleneck.ts';
import type { StateInterval } from './station-tracker.ts';

const iv = (state: MachineState, startMs: number, endMs: number): StateInterval => ({
  state,
  startMs,
  endMs,
});

describe('active-period bottleneck (Roser)', () => {
  it('merges adjacent active states into one active period', () => {
    expect(
      activePeriods([
        iv('running', 0, 10),
        iv('micro-stop', 10, 12),
        iv('down', 12, 20),
        iv('starved', 20, 30),
        iv('running', 30, 40),
      ]),
    ).toEqual([
      [0, 20],
      [30, 40],
    ]);
  });

  it('names the station with the longest active periods, sole and shifting', () => {
    // A works 0-60 and 70-100; B works in short bursts; C works 50-80 (overlapping both of A's).
    const a = [iv('running', 0, 60), iv('starved', 60, 70), iv('running', 70, 100)];
    const b = [iv('running', 0, 5), iv('blocked', 5, 10), iv('running', 10, 15), iv('blocked', 15, 100)];
    const c = [iv('idle', 0, 50), iv('running', 50, 80), iv('idle', 80, 100)];
    const r = computeBottleneck('L', ['A', 'B', 'C'], [a, b, c], 0, 100);
    const by = Object.fromEntries(r.shares.map((s) => [s.station, s]));
    // 0-60 A (60 long) wins; 60-70 C (30) is the only active one; from 70 A's next period ties
    // with C's and the first found (A) keeps it. C's period [50, 80] overlaps A's periods
    // [0, 60] and [70, 100]: 50-60 and 70-80 are shifting for both.
    expect(r.average).toBe('A');
    expect(by.A).toMatchObject({ soleShare: 0.7, shiftingShare: 0.2 });
    expect(by.C).toMatchObject({ soleShare: 0.1, shiftingShare: 0.2 });
    expect(by.B?.share).toBe(0);
    expect(r.momentary).toBe('A');
    // A's ongoing period [70, 100] overlaps C's [50, 80], the bottleneck before it.
    expect(r.shifting).toBe(true);
  });

  it('calls the momentary bottleneck shifting only when it took over from an overlapping one', () => {
    // A works 0-60; B works 30-100 (70 long): B is the bottleneck from 30, A's period [0, 60]
    // overlaps it (30-60 shifting for both).
    const a = [iv('running', 0, 60), iv('starved', 60, 100)];
    const b = [iv('starved', 0, 30), iv('running', 30, 100)];
    const shifted = computeBottleneck('L', ['A', 'B'], [a, b], 0, 100);
    expect(shifted).toMatchObject({ momentary: 'B', shifting: true, average: 'B' });
    const by = Object.fromEntries(shifted.shares.map((s) => [s.station, s]));
    expect(by.A).toMatchObject({ soleShare: 0.3, shiftingShare: 0.3 });
    expect(by.B).toMatchObject({ soleShare: 0.4, shiftingShare: 0.3 });
    // B starts only after A stopped (a gap 60-65 with no bottleneck): a clean handover.
    const b2 = [iv('starved', 0, 65), iv('running', 65, 100)];
    const clean = computeBottleneck('L', ['A', 'B'], [a, b2], 0, 100);
    expect(clean.shifting).toBe(false);
    expect(clean.momentary).toBe('B');
    // Nothing active at the end: no momentary bottleneck, not shifting.
    const idle = computeBottleneck('L', ['A', 'B'], [a, [iv('starved', 0, 100)]], 0, 100);
    expect(idle).toMatchObject({ momentary: null, shifting: false, average: 'A' });
  });

  it('has no bottleneck when nothing is active', () => {
    const r = computeBottleneck('L', ['A'], [[iv('stopped', 0, 100)]], 0, 100);
    expect(r.momentary).toBeNull();
    expect(r.average).toBeNull();
  });
});
