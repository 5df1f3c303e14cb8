import { ManualClock, PACKML_CODE } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import type { Engine } from './engine-api.ts';
import { batch, engineFixture, L } from './testing/demo-line.ts';

const MIN = 60_000;
const fx = engineFixture();

/**
 * The pack station from 06:00 Berlin (the early shift's start, no break before 10:00):
 * - 0–60 min running, a part every 30 s (120 parts, the last at 60 min);
 * - 60–70 min down, fault 7;
 * - 70–90 min running, a part every 30 s (40 parts, the last at 90 min);
 * - 90–95 min down, fault 8;
 * - 95–105 min running, a part every 20 s (30 parts, the last at 105 min);
 * then the clock stands at 105 min 5 s. 190 parts, all good.
 */
function scriptedPack(): { engine: Engine; t0: number; now: number } {
  const t0 = Date.UTC(2026, 0, 5, 5, 0, 0);
  const clock = new ManualClock(t0);
  const engine = fx.make(clock);
  let parts = 0;
  const part = (ts: number): void => {
    parts++;
    engine.ingest(
      batch([
        ['pack/parts_total', ts, parts],
        ['pack/parts_good', ts, parts],
      ]),
    );
  };
  const state = (ts: number, code: number, fault: number): void =>
    engine.ingest(
      batch([
        ['pack/state', ts, code],
        ['pack/state_reason', ts, 0],
        ['pack/fault_code', ts, fault],
      ]),
    );
  state(t0, PACKML_CODE.Execute, 0);
  engine.ingest(
    batch([
      ['pack/parts_total', t0, 0],
      ['pack/parts_good', t0, 0],
      ['pack/parts_scrap', t0, 0],
    ]),
  );
  for (let i = 1; i <= 120; i++) part(t0 + i * 30_000);
  state(t0 + 60 * MIN, PACKML_CODE.Aborted, 7);
  state(t0 + 70 * MIN, PACKML_CODE.Execute, 0);
  for (let i = 1; i <= 40; i++) part(t0 + 70 * MIN + i * 30_000);
  state(t0 + 90 * MIN, PACKML_CODE.Aborted, 8);
  state(t0 + 95 * MIN, PACKML_CODE.Execute, 0);
  for (let i = 1; i <= 30; i++) part(t0 + 95 * MIN + i * 20_000);
  const now = t0 + 105 * MIN + 5000;
  clock.set(now);
  return { engine, t0, now };
}

describe('station KPIs beyond OEE', () => {
  it('throughput over 1 min, 15 min, 60 min and the shift', () => {
    const { engine, t0, now } = scriptedPack();
    const k = engine.stationKpis(`${L}/pack`);
    expect(k?.partsTotal).toBe(190);
    // (now − 1 min, now]: the parts at 95 min + 560, 580, 600 s → 3 parts → 180/h.
    expect(k?.throughput.partsPerHour1m).toBe(180);
    // (now − 15 min, now] = (90 min 5 s, 105 min 5 s]: the last run's 30 parts (the 40th of the
    // middle run came at 90 min, before the window) → 30 × 4 = 120/h.
    expect(k?.throughput.partsPerHour15m).toBe(120);
    // (45 min 5 s, 105 min 5 s]: 30 of the first run (parts 91–120), 40, 30 → 100/h.
    expect(k?.throughput.partsPerHour60m).toBe(100);
    // The shift so far (from the engine's first sample at 06:00, no break yet): 190 parts in
    // 6305 s.
    expect(k?.throughput.partsPerHourShift).toBeCloseTo((190 * 3_600_000) / (now - t0), 9);
  });

  it('throughput per shift leaves the break out of both the parts and the time', () => {
    // 06:00 Berlin, a part a minute (at :30) until 10:44:30; the early shift's break is
    // 10:00-10:30. At 10:45: 240 parts before the break, 30 during it, 15 after it.
    const t0 = Date.UTC(2026, 0, 5, 5, 0, 0);
    const clock = new ManualClock(t0);
    const engine = fx.make(clock);
    engine.ingest(
      batch([
        ['press/state', t0, PACKML_CODE.Execute],
        ['press/parts_total', t0, 0],
      ]),
    );
    for (let i = 0; i <= 284; i++)
      engine.ingest(batch([['press/parts_total', t0 + 30_000 + i * MIN, i + 1]]));
    clock.set(t0 + 285 * MIN);
    const k = engine.stationKpis(`${L}/press`);
    expect(k?.partsTotal).toBe(285);
    // (240 + 15) parts in 4 h + 15 min of planned time.
    expect(k?.throughput.partsPerHourShift).toBeCloseTo(255 / 4.25, 12);
    expect(k?.throughput.partsPerHour60m).toBe(60);
  });

  it('mean actual cycle time over the last 15 min of running', () => {
    const { engine } = scriptedPack();
    // In (90 min 5 s, 105 min 5 s]: down until 95 min, then 605 s running for 30 parts.
    expect(engine.stationKpis(`${L}/pack`)?.cycleTimeS).toBeCloseTo(605 / 30, 9);
  });

  it('MTBF, MTTR and the downtime Pareto over the shift', () => {
    const { engine } = scriptedPack();
    const k = engine.stationKpis(`${L}/pack`);
    // Running 3600 + 1200 + 605 s between 2 failures; down 600 + 300 s.
    expect(k?.mtbfMs).toBe(2_702_500);
    expect(k?.mttrMs).toBe(450_000);
    expect(k?.downtimePareto).toEqual([
      { reason: 'down:fault 7', state: 'down', durationMs: 600_000, count: 1 },
      { reason: 'down:fault 8', state: 'down', durationMs: 300_000, count: 1 },
    ]);
    expect(k?.stateDurationsMs).toMatchObject({ running: 5_405_000, down: 900_000 });
  });

  it('OEE counts planned time only from the first sample on: time before it is unknown, not lost', () => {
    const { engine, t0, now } = scriptedPack();
    // The window asks from 2 h before the engine's first sample (the night shift's last hours,
    // planned time): they are left out, not counted as unplanned downtime.
    const o = engine.oee(`${L}/pack`, { fromMs: t0 - 120 * MIN, toMs: now });
    expect(o?.fromMs).toBe(t0);
    expect(o?.plannedBusyTimeMs).toBe(now - t0);
    expect(o?.availability).toBeCloseTo(5405 / 6305, 12);
    expect(engine.stationKpis(`${L}/pack`, { fromMs: t0 - 120 * MIN, toMs: now })?.oee).toEqual(o);
    expect(engine.lineKpis(L, { fromMs: t0 - 120 * MIN, toMs: now })?.oee.plannedBusyTimeMs).toBe(now - t0);
    // A window wholly before it has no planned time, hence no availability.
    const before = engine.oee(`${L}/pack`, { fromMs: t0 - 120 * MIN, toMs: t0 - 60 * MIN });
    expect(before?.plannedBusyTimeMs).toBe(0);
    expect(before?.availability).toBeNaN();
  });

  it('MTBF and MTTR are NaN without a failure', () => {
    const { engine, t0 } = scriptedPack();
    const k = engine.stationKpis(`${L}/pack`, { fromMs: t0, toMs: t0 + 60 * MIN });
    expect(k?.mtbfMs).toBeNaN();
    expect(k?.mttrMs).toBeNaN();
  });
});

describe('line KPIs', () => {
  it('line throughput is the last station’s; line OEE at the slowest ideal cycle time', () => {
    const { engine, t0, now } = scriptedPack();
    const lk = engine.lineKpis(L);
    expect(lk?.throughput).toEqual(engine.stationKpis(`${L}/pack`)?.throughput);
    expect(lk?.throughput.partsPerHour60m).toBe(100);
    // PBT 6305 s; the line is up whenever pack is not down: APT = 6305 − 900 = 5405 s; the line's
    // ideal cycle time is assembly's 24 s (pack's own is 15.5 s).
    const o = lk?.oee;
    expect(o?.plannedBusyTimeMs).toBe(now - t0);
    expect(o?.actualProductionTimeMs).toBe(5_405_000);
    expect(o?.idealCycleTimeS).toBe(24);
    expect(o?.availability).toBeCloseTo(5405 / 6305, 12);
    expect(o?.effectiveness).toBeCloseTo((24 * 190) / 5405, 12);
    expect(o?.qualityRate).toBe(1);
    expect(o?.oee).toBeCloseTo((24 * 190) / 6305, 12);
    // The station's own OEE uses its own ideal cycle time and running time.
    const so = engine.stationKpis(`${L}/pack`)?.oee;
    expect(so?.effectiveness).toBeCloseTo((15.5 * 190) / 5405, 12);
  });

  it('WIP per buffer is each buffer’s last level; buffers that never reported are left out', () => {
    const { engine, now } = scriptedPack();
    engine.ingest(
      batch([
        ['press-weld/level', now - 3000, 3],
        ['weld-oven/level', now - 3000, 7],
        ['oven-assembly/level', now - 3000, 2],
      ]),
    );
    engine.ingest(
      batch([
        ['weld-oven/level', now - 1000, 5],
        ['oven-assembly/level', now - 1000, 0],
      ]),
    );
    const lk = engine.lineKpis(L);
    expect(lk?.wip).toEqual({
      [`${L}/press-weld`]: 3,
      [`${L}/weld-oven`]: 5,
      [`${L}/oven-assembly`]: 0,
    });
    expect(lk?.wipTotal).toBe(8);
  });
});
