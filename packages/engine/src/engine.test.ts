import { InProcessBus, ManualClock, PACKML_CODE, SampleBatchBuilder, type SampleValue } from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { batch, engineFixture, L } from './testing/demo-line.ts';
import type { TwinChange } from './types.ts';

const fx = engineFixture();
const { make } = fx;

describe('live twin', () => {
  it('keeps last value, quality, source time, age and staleness per signal', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(batch([['oven/zone2/temperature', t0, 181.5]]));
    clock.advance(2000);
    const v = e.signal(`${L}/oven/zone2/temperature`);
    expect(v).toMatchObject({
      value: 181.5,
      quality: 'good',
      ts: t0,
      ageMs: 2000,
      stale: false,
      inNormalRange: true,
    });
    expect(v?.context).toMatchObject({
      unit: '°C',
      station: `${L}/oven`,
      stationOrder: 2,
      role: 'process_value',
    });
    clock.advance(2000); // 4 s > 3 × 1 s period
    expect(e.signal(`${L}/oven/zone2/temperature`)?.stale).toBe(true);
  });

  it('enriches with the station place, buffers, product and order', () => {
    const clock = new ManualClock();
    const e = make(clock);
    expect(e.context(`${L}/weld/parts_total`)).toMatchObject({
      station: `${L}/weld`,
      stationOrder: 1,
      upstreamBuffer: `${L}/press-weld`,
      downstreamBuffer: `${L}/weld-oven`,
      source: 'opcua-press-weld',
    });
    expect(e.production(L)).toMatchObject({ order: 'PO-1001', product: 'widget-a' });
    expect(e.asset(`${L}/press`)?.production?.idealCycleTimeS?.press).toBe(18);
  });

  it('a snapshot plus the changes after it neither miss nor repeat a change', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    const seen: TwinChange[] = [];
    e.onChange((c) => seen.push(...c));
    e.ingest(
      batch([
        ['press/motor_current', t0, 10],
        ['weld/motor_current', t0, 11],
      ]),
    );
    const snap = e.snapshot(`${L}/+/motor_current`);
    expect(snap.signals.map((s) => s.value).filter((v) => v !== null)).toEqual([10, 11]);
    e.ingest(
      batch([
        ['press/motor_current', t0 + 1000, 12],
        ['press/motor_current', t0 + 2000, 12],
      ]),
    );
    const after = e.changesSince(snap.seq);
    expect(after?.map((c) => (c.kind === 'signal' ? c.value : null))).toEqual([12]);
    expect(seen.map((c) => c.seq)).toEqual([1, 2, 3]);
    expect(e.changesSince(e.seq)).toEqual([]);
  });

  it('answers queries by pattern and by condition', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(
      batch([
        ['oven/zone1/temperature', t0, 180],
        ['oven/zone2/temperature', t0, 196],
        ['oven/zone3/temperature', t0, 160],
        ['press/state', t0, PACKML_CODE.Aborted],
        ['press/fault_code', t0, 17],
        ['weld/state', t0, PACKML_CODE.Execute],
      ]),
    );
    const hot = e.query({ unit: '°C', outOfNormal: true });
    expect(hot.signals.map((s) => s.path).sort()).toEqual([
      `${L}/oven/zone2/temperature`,
      `${L}/oven/zone3/temperature`,
    ]);
    const down = e.query({ state: 'down' });
    expect(down.assets.map((a) => a.path)).toEqual([`${L}/press`]);
    expect(down.assets[0]?.reason).toBe('fault 17');
    expect(e.query({ pattern: 'acme/plant1/+/line1/oven/#', role: 'setpoint' }).signals).toHaveLength(4);
    expect(() => e.query({ pattern: 'acme/#/x' })).toThrow(/pattern/);
  });
});

describe('bad input', () => {
  it('is counted per source and never reaches the twin or the KPIs', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(batch([['press/parts_total', t0, 10]]));
    const bad = new SampleBatchBuilder();
    bad.push('acme/nowhere/x', t0, 1);
    bad.push(`${L}/press/parts_total`, t0 + 1000, Number.NaN);
    bad.push(`${L}/press/parts_total`, t0 + 1000, 'eleven');
    bad.push(`${L}/press/parts_total`, t0 - 1000, 9);
    bad.push(`${L}/press/parts_total`, t0, 10);
    bad.push(`${L}/press/parts_total`, t0 + 2000, 12);
    bad.push(`${L}/press/motor_current`, t0 + 2000, Number.NaN, 'bad');
    expect(() => e.ingest(bad.build())).not.toThrow();
    const stats = Object.fromEntries(e.inputStats().map((s) => [s.source, s]));
    expect(stats['opcua-press-weld']).toMatchObject({
      accepted: 3,
      nan: 1,
      wrongType: 1,
      backwards: 1,
      duplicate: 1,
      badQuality: 1,
    });
    expect(stats['(unknown)']?.unknownSignal).toBe(1);
    expect(e.signal(`${L}/press/parts_total`)?.value).toBe(12);
    expect(e.stationKpis(`${L}/press`)?.partsTotal).toBe(2);
    expect(e.signal(`${L}/press/motor_current`)).toMatchObject({ quality: 'bad' });
  });
});

describe('machine state', () => {
  it('follows PackML state, reason and fault code, with durations and historian events', async () => {
    const clock = new ManualClock();
    const historian = new MemoryHistorian();
    const e = make(clock, { historian });
    const t0 = clock.now();
    const P = `${L}/press`;
    e.ingest(
      batch([
        ['press/state', t0, PACKML_CODE.Execute],
        ['press/state_reason', t0, 0],
        ['press/fault_code', t0, 0],
      ]),
    );
    expect(e.asset(P)?.state).toBe('running');
    e.ingest(
      batch([
        ['press/state', t0 + 60_000, PACKML_CODE.Suspended],
        ['press/state_reason', t0 + 60_000, 2],
      ]),
    );
    expect(e.asset(P)).toMatchObject({ state: 'blocked', reason: 'blocked', since: t0 + 60_000 });
    e.ingest(
      batch([
        ['press/state', t0 + 90_000, PACKML_CODE.Aborted],
        ['press/fault_code', t0 + 90_000, 42],
        ['press/state_reason', t0 + 90_000, 0],
      ]),
    );
    expect(e.asset(P)).toMatchObject({ state: 'down', reason: 'fault 42', faultCode: 42 });
    expect(e.alarms().map((a) => a.id)).toContain(`${P}:fault`);
    e.ingest(
      batch([
        ['press/state', t0 + 150_000, PACKML_CODE.Execute],
        ['press/fault_code', t0 + 150_000, 0],
      ]),
    );
    clock.set(t0 + 180_000);
    const k = e.stationKpis(P, { fromMs: t0, toMs: t0 + 180_000 });
    expect(k?.stateDurationsMs).toMatchObject({ running: 90_000, blocked: 30_000, down: 60_000 });
    expect(k?.mttrMs).toBe(60_000);
    expect(k?.downtimePareto[0]).toMatchObject({ reason: 'down:fault 42', durationMs: 60_000, count: 1 });
    await e.stop();
    const events = await historian.queryEvents({ fromMs: t0, toMs: t0 + 200_000, kind: 'state' });
    expect(events.map((x) => x.data.state)).toEqual(['running', 'blocked', 'down']);
    expect(events[2]?.data).toMatchObject({ durationMs: 60_000, faultCode: 42 });
    const alarms = await historian.queryEvents({ fromMs: t0, toMs: t0 + 200_000, kind: 'alarm' });
    expect(alarms.map((x) => x.data.action)).toEqual(['raise', 'clear']);
  });

  it('takes a good value stamped before the bad one that came first (gateway vs device clock)', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(batch([['weld/motor_current', t0, 10]]));
    e.ingest(batch([['weld/motor_current', t0 + 1000, 0, 'bad']]));
    e.ingest(batch([['weld/motor_current', t0 + 900, 11]]));
    expect(e.signal(`${L}/weld/motor_current`)).toMatchObject({ value: 11, quality: 'good', ts: t0 + 900 });
    e.ingest(batch([['weld/motor_current', t0 + 800, 12]]));
    expect(e.inputStats().find((s) => s.source === 'opcua-press-weld')?.backwards).toBe(1);
  });

  it('goes offline after offlineAfterMs of silence and back when data returns', () => {
    const clock = new ManualClock();
    const e = make(clock, { tuning: { offlineAfterMs: 30_000 } });
    const t0 = clock.now();
    e.ingest(batch([['weld/state', t0, PACKML_CODE.Execute]]));
    clock.advance(45_000);
    expect(e.asset(`${L}/weld`)).toMatchObject({ state: 'offline', reason: 'silent', since: t0 + 30_000 });
    e.ingest(batch([['weld/motor_current', t0 + 46_000, 12]]));
    expect(e.asset(`${L}/weld`)).toMatchObject({ state: 'running', since: t0 + 46_000 });
  });

  it('goes offline on a bad-quality state value', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(batch([['weld/state', t0, PACKML_CODE.Execute]]));
    e.ingest(batch([['weld/state', t0 + 1000, 0, 'bad']]));
    expect(e.asset(`${L}/weld`)).toMatchObject({ state: 'offline', reason: 'bad quality' });
  });
});

describe('counters, throughput and OEE', () => {
  it('computes ISO 22400-2 OEE over a window from states and counts', () => {
    // Midnight to 01:00 UTC on a Monday is 01:00-02:00 in Berlin: the night shift, no break.
    const t0 = Date.UTC(2026, 0, 5, 0, 0, 0);
    const clock = new ManualClock(t0);
    const e = make(clock);
    const P = `${L}/press`;
    // 40 min running making 100 parts (5 scrap), 20 min down.
    e.ingest(
      batch([
        ['press/state', t0, PACKML_CODE.Execute],
        ['press/parts_total', t0, 1000],
        ['press/parts_good', t0, 900],
        ['press/parts_scrap', t0, 100],
      ]),
    );
    for (let i = 1; i <= 100; i++) {
      const ts = t0 + i * 24_000;
      const scrap = i % 20 === 0;
      const rows: Array<[string, number, SampleValue]> = [['press/parts_total', ts, 1000 + i]];
      if (scrap) rows.push(['press/parts_scrap', ts, 100 + i / 20]);
      else rows.push(['press/parts_good', ts, 900 + i - Math.floor(i / 20)]);
      e.ingest(batch(rows));
    }
    e.ingest(
      batch([
        ['press/state', t0 + 2_400_000, PACKML_CODE.Aborted],
        ['press/fault_code', t0 + 2_400_000, 3],
      ]),
    );
    clock.set(t0 + 3_600_000);
    const o = e.oee(P, { fromMs: t0, toMs: t0 + 3_600_000 });
    expect(o?.plannedBusyTimeMs).toBe(3_600_000);
    expect(o?.actualProductionTimeMs).toBe(2_400_000);
    expect(o?.producedQuantity).toBe(100);
    expect(o?.goodQuantity).toBe(95);
    expect(o?.availability).toBeCloseTo(2 / 3, 9);
    expect(o?.effectiveness).toBeCloseTo((18 * 100) / 2400, 9);
    expect(o?.qualityRate).toBeCloseTo(0.95, 9);
    expect(o?.oee).toBeCloseTo((2 / 3) * (1800 / 2400) * 0.95, 9);
    const k = e.stationKpis(P);
    expect(k?.throughput.partsPerHour60m).toBe(100);
    expect(k?.throughput.partsPerHour1m).toBe(0);
  });

  it('excludes planned breaks from planned time', () => {
    // 08:30-09:30 UTC = 09:30-10:30 Berlin, the early shift with its 10:00-10:30 break.
    const t0 = Date.UTC(2026, 0, 5, 8, 30, 0);
    const clock = new ManualClock(t0);
    const e = make(clock);
    e.ingest(batch([['test/state', t0, PACKML_CODE.Execute]]));
    clock.set(t0 + 3_600_000);
    const o = e.oee(`${L}/test`, { fromMs: t0, toMs: t0 + 3_600_000 });
    expect(o?.plannedBusyTimeMs).toBe(1_800_000);
    expect(o?.actualProductionTimeMs).toBe(1_800_000);
    expect(o?.availability).toBe(1);
  });
});

describe('alarms', () => {
  it('follows the ISA-18.2 life cycle with on-delay, deadband, acknowledge and shelving', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const t0 = clock.now();
    const S = `${L}/press/vibration`; // hi 7.1, deadband 0.2, on-delay 5 s
    const id = `${S}:hi`;
    e.ingest(batch([['press/state', t0 - 1, PACKML_CODE.Execute]]));
    e.ingest(batch([['press/vibration', t0, 8]]));
    expect(e.alarms()).toHaveLength(0); // on-delay
    e.ingest(batch([['press/vibration', t0 + 3000, 6]]));
    e.ingest(batch([['press/vibration', t0 + 4000, 7.5]]));
    e.ingest(batch([['press/vibration', t0 + 8000, 7.4]]));
    expect(e.alarms()).toHaveLength(0);
    e.ingest(batch([['press/vibration', t0 + 9000, 7.4]]));
    expect(e.alarms()[0]).toMatchObject({
      id,
      state: 'active-unacked',
      activeSince: t0 + 9000,
      priority: 'high',
    });
    e.ingest(batch([['press/vibration', t0 + 10_000, 7.0]])); // inside the deadband: still active
    expect(e.alarms()[0]?.state).toBe('active-unacked');
    e.ingest(batch([['press/vibration', t0 + 11_000, 6.8]]));
    expect(e.alarms()[0]?.state).toBe('cleared-unacked');
    const acked = e.acknowledge(id, 'alice');
    expect(acked).toMatchObject({ state: 'normal', ackedBy: 'alice' });
    const shelved = e.shelve(id, 'bob', 60_000);
    expect(shelved).toMatchObject({ shelved: true, shelvedBy: 'bob' });
    clock.advance(61_000);
    expect(e.alarms({ all: true }).find((a) => a.id === id)?.shelved).toBe(false);
    expect(e.alarmJournal().map((t) => t.action)).toEqual(['raise', 'clear', 'ack', 'shelve', 'unshelve']);
    expect(() => e.acknowledge('nope', 'x')).toThrow(
      expect.objectContaining({ code: 'GEMBA_ENGINE_UNKNOWN_ALARM' }),
    );
  });
});

describe('windows', () => {
  it('hands on count, mean, min, max and stddev per 1 s, 1 min, 1 h', () => {
    const t0 = Date.UTC(2026, 0, 5, 6, 0, 0);
    const clock = new ManualClock(t0);
    const e = make(clock);
    const rows: Array<[string, unknown]> = [];
    e.onRollup((res, r) => rows.push([res, r]));
    e.ingest(
      batch([
        ['oven/zone1/temperature', t0 + 100, 1],
        ['oven/zone1/temperature', t0 + 200, 3],
        ['oven/zone1/temperature', t0 + 1100, 5],
      ]),
    );
    const first = rows.find(([res]) => res === '1s')?.[1] as Array<Record<string, number>>;
    expect(first[0]).toMatchObject({ bucketMs: t0, count: 2, mean: 2, min: 1, max: 3, first: 1, last: 3 });
    expect(first[0]?.stddev).toBeCloseTo(Math.SQRT2, 12);
    clock.advance(3_700_000);
    const hour = rows.find(([res]) => res === '1h')?.[1] as Array<Record<string, number>>;
    expect(hour[0]).toMatchObject({ bucketMs: t0, count: 3, mean: 3, min: 1, max: 5 });
  });
});

describe('attach', () => {
  it('consumes the bus and acknowledges after processing', async () => {
    const clock = new ManualClock();
    const bus = new InProcessBus({ clock });
    const e = make(clock);
    const got = new Promise<void>((resolve) => {
      e.onChange((c) => {
        if (c.some((x) => x.kind === 'signal')) resolve();
      });
    });
    await e.attach(bus, { durable: 'engine-test', filter: 'gemba.>' });
    await bus.publish('gemba.samples.x', batch([['press/motor_current', clock.now(), 9]]));
    await got;
    expect(e.signal(`${L}/press/motor_current`)?.value).toBe(9);
    await e.stop();
    expect(await bus.pending('engine-test')).toBe(0);
    await bus.close();
  });
});

describe('an engine started mid-shift', () => {
  it('counts planned time only from its first sample (no tiny availability, no performance above 100 %)', () => {
    const clock = new ManualClock(); // 07:00 Berlin: the early shift began an hour ago
    const e = make(clock);
    const t0 = clock.now();
    e.ingest(
      batch([
        ['press/state', t0, PACKML_CODE.Execute],
        ['press/parts_total', t0, 100],
        ['press/parts_good', t0, 100],
      ]),
    );
    // 30 parts at the ideal 18 s cycle over 9 minutes, running all the time.
    for (let i = 1; i <= 30; i++) {
      clock.advance(18_000);
      e.ingest(
        batch([
          ['press/parts_total', clock.now(), 100 + i],
          ['press/parts_good', clock.now(), 100 + i],
        ]),
      );
    }
    const oee = e.stationKpis(`${L}/press`)?.oee;
    expect(oee?.availability).toBeCloseTo(1, 2);
    expect(oee?.effectiveness).toBeGreaterThan(0.95);
    expect(oee?.effectiveness).toBeLessThanOrEqual(1.0001);
  });
});

describe('the schedule', () => {
  it('takes orders pushed at run time into the context of what follows', () => {
    const clock = new ManualClock();
    const e = make(clock);
    expect(e.production(L).order).toBe('PO-1001');
    e.setOrders([...fx.model.orders, { id: 'PO-2002', product: 'widget-a', line: L, status: 'running' }]);
    expect(e.production(L)).toMatchObject({ order: 'PO-2002', product: 'widget-a' });
    e.setOrders([{ id: 'PO-2002', product: 'widget-a', line: L, status: 'done' }, ...fx.model.orders]);
    expect(e.production(L).order).toBe('PO-1001');
  });
});

describe('line OEE', () => {
  it('counts the last station waiting for parts as a speed loss of the line, not lost availability', () => {
    const clock = new ManualClock();
    const e = make(clock);
    const S = PACKML_CODE.Suspended;
    const X = PACKML_CODE.Execute;
    e.ingest(
      batch([
        ['pack/state', clock.now(), X],
        ['pack/parts_total', clock.now(), 0],
        ['pack/parts_good', clock.now(), 0],
      ]),
    );
    // Pack works 16 s and waits 8 s per part: the line makes one part per 24 s, its design pace.
    for (let i = 1; i <= 40; i++) {
      clock.advance(16_000);
      e.ingest(
        batch([
          ['pack/parts_total', clock.now(), i],
          ['pack/parts_good', clock.now(), i],
          ['pack/state', clock.now(), S],
          ['pack/state_reason', clock.now(), 1],
        ]),
      );
      clock.advance(8_000);
      e.ingest(
        batch([
          ['pack/state', clock.now(), X],
          ['pack/state_reason', clock.now(), 0],
        ]),
      );
    }
    const oee = e.lineKpis(L)?.oee;
    expect(oee?.availability).toBeCloseTo(1, 2);
    expect(oee?.effectiveness).toBeGreaterThan(0.97);
    expect(oee?.effectiveness).toBeLessThanOrEqual(1.0001);
    expect(oee?.oee).toBeGreaterThan(0.97);
  });
});
