import { ManualClock, parseModel, SampleBatchBuilder, type SampleValue, silentLogger } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';

// Two stations without PackML state signals: only counters, fault codes and a buffer level.
const MODEL = `gemba: 1
enterprise: { id: acme }
types:
  machine:
    signals:
      parts_total: { dataType: uint, role: part_counter }
      fault_code: { dataType: int, role: fault_code }
  buffer:
    signals:
      level: { dataType: uint, role: buffer_level }
sites:
  - id: p
    areas:
      - id: a
        lines:
          - id: l
            stations:
              - { id: cut, type: machine }
              - { id: fold, type: machine }
            buffers:
              - { id: cut-fold, from: cut, to: fold, capacity: 5, type: buffer }
products:
  - { id: w, idealCycleTimeS: { cut: 10, fold: 10 } }
`;
const L = 'acme/p/a/l';

describe('inferred machine state (no state signal)', () => {
  it('infers running, idle, starved, blocked, down and offline from counters, buffers and faults', () => {
    const model = parseModel(MODEL, 'inferred.yaml');
    const t0 = Date.UTC(2026, 0, 5, 0, 0);
    const clock = new ManualClock(t0);
    const e = createEngine({ model, clock, logger: silentLogger() });
    const send = (rows: Array<[string, number, SampleValue, ('good' | 'bad')?]>): void => {
      const b = new SampleBatchBuilder();
      for (const [s, ts, v, q] of rows) b.push(`${L}/${s}`, ts, v, q ?? 'good');
      e.ingest(b.build());
    };
    send([
      ['cut/parts_total', t0, 0],
      ['fold/parts_total', t0, 0],
      ['cut-fold/level', t0, 2],
      ['cut/fault_code', t0, 0],
    ]);
    send([
      ['cut/parts_total', t0 + 10_000, 1],
      ['fold/parts_total', t0 + 10_000, 1],
    ]);
    expect(e.asset(`${L}/cut`)?.state).toBe('running');
    // No count for more than 3 × 10 s: idle, dated at the last count + 30 s.
    clock.set(t0 + 45_000);
    expect(e.asset(`${L}/cut`)).toMatchObject({ state: 'idle', since: t0 + 40_000 });
    // The buffer runs empty: fold is starved; it fills up: cut is blocked.
    send([['cut-fold/level', t0 + 46_000, 0]]);
    expect(e.asset(`${L}/fold`)?.state).toBe('starved');
    send([['cut-fold/level', t0 + 47_000, 5]]);
    expect(e.asset(`${L}/cut`)?.state).toBe('blocked');
    send([['cut/fault_code', t0 + 48_000, 12]]);
    expect(e.asset(`${L}/cut`)).toMatchObject({ state: 'down', reason: 'fault 12' });
    send([['fold/parts_total', t0 + 49_000, 0, 'bad']]);
    expect(e.asset(`${L}/fold`)).toMatchObject({ state: 'offline' });
    send([['fold/parts_total', t0 + 50_000, 2]]);
    expect(e.asset(`${L}/fold`)?.state).toBe('running');
    void e.stop();
  });
});
