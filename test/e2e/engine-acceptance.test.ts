// Acceptance of the engine against the plant emulator's ground truth (issue 5): an 8-hour run
// of the demo line, driven by a ManualClock through the emulator's in-process tap.
import {
  MACHINE_STATES,
  type MachineState,
  ManualClock,
  SampleBatchBuilder,
  silentLogger,
} from '@gemba/core';
import {
  computeBottleneck,
  createEngine,
  isProducing,
  packmlToMachineState,
  ShiftCalendar,
  type StateInterval,
} from '@gemba/engine';
import { startPlant, type TruthEvent } from '@gemba/plant';
import { describe, expect, it } from 'vitest';

const HOURS = 8;

interface TruthStation {
  intervals: StateInterval[];
  cur?: { state: MachineState; reason?: string; since: number };
  finished: number;
  good: number;
  scrap: number;
  finishes: Array<[number, boolean]>;
}

describe('engine against the plant emulator (8 h of the demo line)', () => {
  it('matches the ground truth: states, counts, OEE, bottleneck, bearing anomaly', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 6, 0, 0));
    const plant = await startPlant({
      clock,
      seed: 7,
      opcuaPort: false,
      modbusPort: false,
      tickMs: 1000,
    });
    const model = plant.model;
    const line = model.lines[0];
    if (line === undefined) throw new Error('demo model has no line');
    const engine = createEngine({ model, clock, logger: silentLogger() });
    const truth = new Map<string, TruthStation>();
    for (const s of line.stations)
      truth.set(s.path, { intervals: [], finished: 0, good: 0, scrap: 0, finishes: [] });
    const stationPath = (id: string): string => (id.includes('/') ? id : `${line.path}/${id}`);
    const failures: Array<Extract<TruthEvent, { kind: 'failure' }>> = [];
    plant.onTruth((e) => {
      if (e.kind === 'state') {
        const t = truth.get(stationPath(e.station));
        if (t === undefined) return;
        const d = packmlToMachineState(e.code, e.reason, e.faultCode);
        if (t.cur !== undefined && e.ts > t.cur.since) {
          const iv: StateInterval = { state: t.cur.state, startMs: t.cur.since, endMs: e.ts };
          t.intervals.push(iv);
        }
        t.cur = { state: d.state, since: t.cur !== undefined && e.ts <= t.cur.since ? t.cur.since : e.ts };
      } else if (e.kind === 'part-finish') {
        const t = truth.get(stationPath(e.station));
        if (t === undefined) return;
        t.finished++;
        t.finishes.push([e.ts, e.outcome === 'good']);
        if (e.outcome === 'good') t.good++;
        else t.scrap++;
      } else if (e.kind === 'failure') {
        failures.push(e);
      }
    });
    // The values served before we subscribed (a protocol client's initial read), then every change.
    const initial = new SampleBatchBuilder();
    for (const sig of model.signals) {
      const v = plant.current(sig.path);
      if (v !== undefined) initial.push(sig.path, v.ts, v.value);
    }
    engine.ingest(initial.build());
    plant.onSamples((b) => engine.ingest(b));
    const t0 = clock.now();
    for (let h = 0; h < HOURS * 60; h++) clock.advance(60_000);
    plant.sync();
    const t1 = clock.now();
    engine.tick();

    const window = { fromMs: t0, toMs: t1 };
    const calendar = new ShiftCalendar(model.shifts, model.timezone);
    const planned = calendar.planned(t0, t1);
    const overlap = (s: number, e: number): number => {
      let x = 0;
      for (const [a, b] of planned) x += Math.max(0, Math.min(b, e) - Math.max(a, s));
      return x;
    };
    const ict = model.products[0]?.idealCycleTimeS ?? {};
    const truthIntervals: StateInterval[][] = [];
    for (const st of line.stations) {
      const t = truth.get(st.path) as TruthStation;
      const intervals = [...t.intervals];
      if (t.cur !== undefined) intervals.push({ state: t.cur.state, startMs: t.cur.since, endMs: t1 });
      truthIntervals.push(intervals);
      const trueDur = Object.fromEntries(MACHINE_STATES.map((s) => [s, 0])) as Record<MachineState, number>;
      let apt = 0;
      let pdot = 0;
      for (const iv of intervals) {
        trueDur[iv.state] += iv.endMs - iv.startMs;
        const p = overlap(iv.startMs, iv.endMs);
        if (isProducing(iv.state)) apt += p;
        if (iv.state === 'maintenance') pdot += p;
      }
      const k = engine.stationKpis(st.path, window);
      expect(k).toBeDefined();
      if (k === undefined) continue;
      // State durations within 1 % of the truth (of the run, for states that occurred).
      for (const s of MACHINE_STATES) {
        expect(Math.abs(k.stateDurationsMs[s] - trueDur[s]), `${st.id} ${s}`).toBeLessThanOrEqual(
          Math.max(0.01 * trueDur[s], 1000),
        );
      }
      // Part counts exact.
      expect(k.partsTotal, `${st.id} parts`).toBe(t.finished);
      expect(k.partsGood, `${st.id} good`).toBe(t.good);
      expect(k.partsScrap, `${st.id} scrap`).toBe(t.scrap);
      // OEE and its factors within 1 percentage point of the truth's.
      const inPlanned = (ts: number): boolean => planned.some(([a, b]) => ts >= a && ts < b);
      const pq = t.finishes.filter(([ts]) => inPlanned(ts)).length;
      const gq = t.finishes.filter(([ts, good]) => good && inPlanned(ts)).length;
      const pbt = planned.reduce((a, [s, e]) => a + e - s, 0) - pdot;
      const A = apt / pbt;
      const E = ((ict[st.id] ?? Number.NaN) * 1000 * pq) / apt;
      const Q = gq / pq;
      expect(Math.abs(k.oee.availability - A), `${st.id} availability`).toBeLessThanOrEqual(0.01);
      expect(Math.abs(k.oee.effectiveness - E), `${st.id} effectiveness`).toBeLessThanOrEqual(0.01);
      expect(Math.abs(k.oee.qualityRate - Q), `${st.id} quality`).toBeLessThanOrEqual(0.01);
      expect(Math.abs(k.oee.oee - A * E * Q), `${st.id} oee`).toBeLessThanOrEqual(0.01);
    }
    // The average bottleneck is the true one.
    const trueBn = computeBottleneck(
      line.path,
      line.stations.map((s) => s.path),
      truthIntervals,
      t0,
      t1,
    );
    const bn = engine.bottleneck(line.path, window);
    expect(bn?.average).toBe(trueBn.average);
    // The press bearing's rising vibration is flagged before the failure it leads to: run on
    // (up to 16 h more) until the bearing fails.
    const vib = `${line.path}/press/vibration`;
    const isBearing = (f: Extract<TruthEvent, { kind: 'failure' }>): boolean =>
      stationPath(f.station) === `${line.path}/press` && f.faultCode === 150;
    for (let m = 0; m < 16 * 60 && !failures.some(isBearing); m++) clock.advance(60_000);
    const bearingFailure = failures.find(isBearing);
    expect(bearingFailure, 'the bearing fails within 24 h').toBeDefined();
    const trend = engine.anomalies().find((a) => a.signal === vib && a.kind === 'trend');
    expect(trend, 'bearing trend flagged').toBeDefined();
    expect(trend?.ts ?? Number.POSITIVE_INFINITY).toBeLessThan(bearingFailure?.ts ?? 0);
    await engine.stop();
    await plant.stop();
  }, 300_000);
});
