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
  /** Raw PackML state changes from the truth log: [ts, code, reason]. */
  packml: Array<[number, number, number]>;
}

/** Demo line's designed bottleneck: the slowest mean cycle (examples/demo-line/emulator.yaml). */
const DESIGNED_BOTTLENECK = 'assembly';
/** Resolution of the independent bottleneck sweep: the emulator's physics step. */
const STEP_MS = 100;

/**
 * Whether a PackML state (with the demo line's reason code) is active in the sense of the
 * active-period method (Roser, Nakano, Tanaka 2002): working (Execute), micro-stopped (Held),
 * broken down (Aborted) or in planned maintenance (Stopped, reason 4). Written from the
 * emulator's state table in docs/plant-emulator.md, not from the engine's mapping.
 */
function truthActive(code: number, reason: number): boolean {
  return code === 6 || code === 11 || code === 9 || (code === 2 && reason === 4);
}

/** Active periods [start, end) of one station from its raw state changes, clipped to [t0, t1). */
function truthActivePeriods(changes: ReadonlyArray<[number, number, number]>, t0: number, t1: number) {
  const out: Array<[number, number]> = [];
  let start = Number.NaN;
  for (const [ts, code, reason] of changes) {
    const on = truthActive(code, reason);
    if (on && Number.isNaN(start)) start = Math.max(t0, ts);
    else if (!on && !Number.isNaN(start)) {
      if (ts > start) out.push([start, Math.min(ts, t1)]);
      start = Number.NaN;
    }
  }
  if (!Number.isNaN(start) && t1 > start) out.push([start, t1]);
  return out;
}

/**
 * An independent sweep of the active-period bottleneck, in fixed steps: at each step the
 * station whose active period covering the step is the longest (first station on ties) is the
 * momentary bottleneck; where two successive bottlenecks' periods overlap, both are shifting
 * bottlenecks, elsewhere the momentary one is the sole bottleneck. Returns each station's share
 * of [t0, t1) (sole + shifting).
 */
function truthBottleneckShares(
  periods: ReadonlyArray<ReadonlyArray<[number, number]>>,
  t0: number,
  t1: number,
) {
  const steps = Math.ceil((t1 - t0) / STEP_MS);
  const n = periods.length;
  const cursor = new Array<number>(n).fill(0);
  // Momentary bottleneck per step: station and period index (-1: none).
  const who = new Int32Array(steps).fill(-1);
  const which = new Int32Array(steps).fill(-1);
  for (let k = 0; k < steps; k++) {
    const t = t0 + k * STEP_MS + STEP_MS / 2;
    let bestLen = 0;
    for (let s = 0; s < n; s++) {
      const ps = periods[s] as ReadonlyArray<[number, number]>;
      let c = cursor[s] as number;
      while (c < ps.length && (ps[c] as [number, number])[1] <= t) c++;
      cursor[s] = c;
      const p = ps[c];
      if (p === undefined || p[0] > t) continue;
      if (p[1] - p[0] > bestLen) {
        bestLen = p[1] - p[0];
        who[k] = s;
        which[k] = c;
      }
    }
  }
  // Runs of one period, in time order.
  const runs: Array<{ s: number; p: [number, number] }> = [];
  for (let k = 0; k < steps; k++) {
    const s = who[k] as number;
    if (s < 0) continue;
    const p = (periods[s] as ReadonlyArray<[number, number]>)[which[k] as number] as [number, number];
    const last = runs[runs.length - 1];
    if (last === undefined || last.p !== p) runs.push({ s, p });
  }
  const shifting = Array.from({ length: n }, () => new Uint8Array(steps));
  for (let r = 0; r + 1 < runs.length; r++) {
    const x = runs[r] as { s: number; p: [number, number] };
    const y = runs[r + 1] as { s: number; p: [number, number] };
    if (x.s === y.s) continue;
    const a = Math.max(x.p[0], y.p[0], t0);
    const b = Math.min(x.p[1], y.p[1], t1);
    for (let k = Math.ceil((a - t0) / STEP_MS); k < Math.ceil((b - t0) / STEP_MS); k++) {
      (shifting[x.s] as Uint8Array)[k] = 1;
      (shifting[y.s] as Uint8Array)[k] = 1;
    }
  }
  const share = new Array<number>(n).fill(0);
  for (let s = 0; s < n; s++) {
    let steps1 = 0;
    const sh = shifting[s] as Uint8Array;
    for (let k = 0; k < steps; k++) if (sh[k] === 1 || who[k] === s) steps1++;
    share[s] = (steps1 * STEP_MS) / (t1 - t0);
  }
  return share;
}

describe('engine against the plant emulator (8 h of the demo line)', () => {
  it('matches the ground truth: states, counts, station and line OEE, bottleneck, bearing anomaly', async () => {
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
      truth.set(s.path, { intervals: [], finished: 0, good: 0, scrap: 0, finishes: [], packml: [] });
    const stationPath = (id: string): string => (id.includes('/') ? id : `${line.path}/${id}`);
    const failures: Array<Extract<TruthEvent, { kind: 'failure' }>> = [];
    plant.onTruth((e) => {
      if (e.kind === 'state') {
        const t = truth.get(stationPath(e.station));
        if (t === undefined) return;
        t.packml.push([e.ts, e.code, e.reason]);
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
    for (const st of line.stations) {
      const t = truth.get(st.path) as TruthStation;
      const intervals = [...t.intervals];
      if (t.cur !== undefined) intervals.push({ state: t.cur.state, startMs: t.cur.since, endMs: t1 });
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
    // The average bottleneck is the true one: the active-period method computed here from the
    // truth log's raw PackML states, which names the line's designed bottleneck.
    const truthShares = truthBottleneckShares(
      line.stations.map((st) => truthActivePeriods((truth.get(st.path) as TruthStation).packml, t0, t1)),
      t0,
      t1,
    );
    let trueBnIdx = 0;
    truthShares.forEach((x, i) => {
      if (x > (truthShares[trueBnIdx] as number)) trueBnIdx = i;
    });
    const trueBn = line.stations[trueBnIdx]?.path;
    expect(trueBn).toBe(`${line.path}/${DESIGNED_BOTTLENECK}`);
    const bn = engine.bottleneck(line.path, window);
    expect(bn?.average).not.toBeNull();
    expect(bn?.average).toBe(trueBn);
    // Each station's share (sole + shifting) within 1 percentage point of the truth's.
    line.stations.forEach((st, i) => {
      const share = bn?.shares.find((x) => x.station === st.path)?.share ?? Number.NaN;
      expect(Math.abs(share - (truthShares[i] as number)), `${st.id} bottleneck share`).toBeLessThanOrEqual(
        0.01,
      );
    });
    // Line OEE (docs/kpis.md): the last station's output at the slowest station's ideal cycle
    // time; the line is up whenever its last station is not broken down.
    const lastSt = line.stations[line.stations.length - 1];
    if (lastSt === undefined) throw new Error('demo line has no stations');
    const lastT = truth.get(lastSt.path) as TruthStation;
    let lineDown = 0;
    let lineMaint = 0;
    lastT.packml.forEach(([ts, code, reason], i) => {
      const end = lastT.packml[i + 1]?.[0] ?? t1;
      if (code === 9) lineDown += overlap(ts, end);
      else if (code === 2 && reason === 4) lineMaint += overlap(ts, end);
    });
    const linePbt = planned.reduce((a, [s0, e0]) => a + e0 - s0, 0) - lineMaint;
    const lineApt = linePbt - lineDown;
    const lineIct = Math.max(...line.stations.map((st) => ict[st.id] ?? Number.NaN));
    const inPlannedL = (ts: number): boolean => planned.some(([a, b]) => ts >= a && ts < b);
    const linePq = lastT.finishes.filter(([ts]) => inPlannedL(ts)).length;
    const lineGq = lastT.finishes.filter(([ts, good]) => good && inPlannedL(ts)).length;
    const lineA = lineApt / linePbt;
    const lineE = (lineIct * 1000 * linePq) / lineApt;
    const lineQ = lineGq / linePq;
    expect(lineIct).toBe(24);
    expect(linePq).toBeGreaterThan(0);
    const lineOee = engine.oee(line.path, window);
    expect(Math.abs((lineOee?.availability ?? Number.NaN) - lineA), 'line availability').toBeLessThanOrEqual(
      0.01,
    );
    expect(
      Math.abs((lineOee?.effectiveness ?? Number.NaN) - lineE),
      'line effectiveness',
    ).toBeLessThanOrEqual(0.01);
    expect(Math.abs((lineOee?.qualityRate ?? Number.NaN) - lineQ), 'line quality').toBeLessThanOrEqual(0.01);
    expect(Math.abs((lineOee?.oee ?? Number.NaN) - lineA * lineE * lineQ), 'line oee').toBeLessThanOrEqual(
      0.01,
    );
    expect(lineOee?.producedQuantity).toBe(linePq);
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
