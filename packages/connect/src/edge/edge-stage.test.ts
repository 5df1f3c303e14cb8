import { ManualClock, parseModel, SampleBatch } from '@gemba/core';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type EdgeProblem, EdgeStage } from './edge-stage.ts';

const L = 'acme/p1/a1/line1/m1';
const model = parseModel(
  stringify({
    gemba: 1,
    enterprise: { id: 'acme' },
    types: {
      m: {
        signals: {
          t: { unit: '°C', range: { min: 0, max: 200 } },
          p: { unit: 'kW' },
          c: { dataType: 'int' },
          r: { dataType: 'bool' },
          s: { dataType: 'string' },
          x: {},
        },
      },
    },
    sites: [
      { id: 'p1', areas: [{ id: 'a1', lines: [{ id: 'line1', stations: [{ id: 'm1', type: 'm' }] }] }] },
    ],
    sources: [
      {
        id: 'src',
        protocol: 'modbus',
        host: 'h',
        base: 'acme/p1/a1/line1',
        bindings: [
          {
            signal: 'm1/t',
            table: 'input',
            address: 0,
            edge: { gain: 0.1, fromUnit: 'K', deadband: { percent: 1 } },
          },
          { signal: 'm1/p', table: 'input', address: 1, edge: { gain: 0.001, deadband: { absolute: 0.5 } } },
          { signal: 'm1/c', table: 'input', address: 2, edge: { changeOnly: true } },
          { signal: 'm1/r', table: 'coil', address: 0, edge: { changeOnly: true } },
          { signal: 'm1/s', table: 'input', address: 3, edge: { minIntervalMs: 1000 } },
          { signal: 'm1/x', table: 'input', address: 4 },
        ],
      },
    ],
  }),
);

function stage() {
  const clock = new ManualClock();
  const problems: EdgeProblem[] = [];
  const edge = new EdgeStage(model, model.bindingsOf('src'), { clock, onProblem: (p) => problems.push(p) });
  const run = (rows: [string, number, number | boolean | string, ('good' | 'bad' | 'uncertain')?][]) =>
    edge
      .process(
        SampleBatch.fromSamples(
          rows.map(([s, ts, value, q]) => ({ signal: `${L}/${s}`, ts, value, quality: q ?? 'good' })),
        ),
      )
      .toSamples()
      .map((s) => [s.signal.slice(L.length + 1), s.value, s.quality]);
  return { clock, problems, edge, run };
}

describe('EdgeStage', () => {
  it('scales, converts units and applies a percent deadband of the engineering range', () => {
    const { run, clock } = stage();
    const t0 = clock.now();
    // 4531.5 * 0.1 = 453.15 K = 180 °C; 1 % of 0..200 °C is 2 °C.
    const out = run([
      ['t', t0, 4531.5],
      ['t', t0 + 1, 4541.5],
      ['t', t0 + 2, 4561.5],
    ]);
    expect(out.map((r) => [r[0], Math.round((r[1] as number) * 100) / 100])).toEqual([
      ['t', 180],
      ['t', 183],
    ]);
  });

  it('applies an absolute deadband and change-only, and always passes quality changes', () => {
    const { run, clock, edge } = stage();
    const t = clock.now();
    const out = run([
      ['p', t, 10_000],
      ['p', t, 10_400],
      ['p', t, 10_600],
      ['c', t, 5],
      ['c', t, 5],
      ['c', t, 5, 'bad'],
      ['c', t, 5],
      ['r', t, true],
      ['r', t, true],
      ['r', t, false],
      ['x', t, 1],
      ['x', t, 1],
    ]);
    expect(out).toEqual([
      ['p', 10, 'good'],
      ['p', 10.6, 'good'],
      ['c', 5, 'good'],
      ['c', 5, 'bad'],
      ['c', 5, 'good'],
      ['r', true, 'good'],
      ['r', false, 'good'],
      ['x', 1, 'good'],
      ['x', 1, 'good'],
    ]);
    expect(edge.filtered).toBe(3);
  });

  it('rate-limits by source time', () => {
    const { run, clock } = stage();
    const t = clock.now();
    expect(
      run([
        ['s', t, 'a'],
        ['s', t + 500, 'b'],
        ['s', t + 1000, 'c'],
      ]).map((r) => r[1]),
    ).toEqual(['a', 'c']);
  });

  it('uses receive time when the source time is missing, and flags clock skew', () => {
    const { run, clock, problems, edge } = stage();
    const now = clock.now();
    const b = edge.process(
      SampleBatch.fromSamples([
        { signal: `${L}/x`, ts: 0, value: 1, quality: 'good' },
        { signal: `${L}/x`, ts: now + 3_600_000, value: 2, quality: 'good' },
      ]),
    );
    expect(b.toSamples()).toEqual([
      { signal: `${L}/x`, ts: now, value: 1, quality: 'good' },
      { signal: `${L}/x`, ts: now, value: 2, quality: 'uncertain' },
    ]);
    expect(problems).toEqual([expect.objectContaining({ problem: 'clock-skew', signal: `${L}/x` })]);
    expect(problems[0]?.reason).toMatch(/3600 s ahead/);
    void run;
  });

  it('marks non-finite numbers bad and reports them', () => {
    const { run, clock, problems } = stage();
    expect(run([['x', clock.now(), Number.POSITIVE_INFINITY]])).toEqual([
      ['x', Number.POSITIVE_INFINITY, 'bad'],
    ]);
    expect(problems[0]?.problem).toBe('nan-value');
  });
});
