import { fileURLToPath } from 'node:url';
import {
  loadModelFile,
  ManualClock,
  type Model,
  PACKML_CODE,
  SampleBatchBuilder,
  type SampleValue,
  silentLogger,
} from '@gemba/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';

const PLANT = fileURLToPath(new URL('../../../examples/demo-line/plant.yaml', import.meta.url));
const L = 'acme/plant1/assembly/line1';
const P = `${L}/press`;
let model: Model;
beforeAll(async () => {
  model = await loadModelFile(PLANT);
});

type Row = [string, number, SampleValue, 'good' | 'bad'];

/** A clean hour of the press: states and counters, one row per event, in time order. */
function cleanStream(t0: number, events: ReadonlyArray<{ dtMs: number; kind: number }>): Row[] {
  const rows: Row[] = [
    [`${P}/state`, t0, PACKML_CODE.Execute, 'good'],
    [`${P}/parts_total`, t0, 0, 'good'],
  ];
  let t = t0;
  let parts = 0;
  for (const e of events) {
    t += e.dtMs;
    if (e.kind === 0) rows.push([`${P}/parts_total`, t, ++parts, 'good']);
    else if (e.kind === 1) rows.push([`${P}/state`, t, PACKML_CODE.Execute, 'good']);
    else if (e.kind === 2) rows.push([`${P}/state`, t, PACKML_CODE.Aborted, 'good']);
    else rows.push([`${P}/vibration`, t, 3 + e.dtMs / 1e4, 'good']);
  }
  return rows;
}

function kpisOf(rows: readonly Row[], t0: number, t1: number) {
  const clock = new ManualClock(t0);
  const e = createEngine({ model, clock, logger: silentLogger() });
  for (let i = 0; i < rows.length; i += 7) {
    const b = new SampleBatchBuilder();
    for (const [s, ts, v, q] of rows.slice(i, i + 7)) b.push(s, ts, v, q);
    e.ingest(b.build());
  }
  clock.set(t1);
  const k = e.stationKpis(P, { fromMs: t0, toMs: t1 });
  void e.stop();
  return { k, stats: e.inputStats() };
}

describe('bad input never corrupts a KPI', () => {
  it('interleaving unknown signals, NaN, wrong types, backwards time and duplicates changes nothing', () => {
    const t0 = Date.UTC(2026, 0, 5, 0, 0);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ dtMs: fc.integer({ min: 1, max: 60_000 }), kind: fc.integer({ min: 0, max: 3 }) }),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 4 })), { maxLength: 40 }),
        (events, junk) => {
          const clean = cleanStream(t0, events);
          const t1 = (clean[clean.length - 1] as Row)[1] + 1000;
          const dirty = [...clean];
          let expectedBad = 0;
          for (const [pos, kind] of junk) {
            // Junk goes right after a clean row and is derived from it (never from other junk).
            const before = clean[pos % clean.length] as Row;
            const at = dirty.indexOf(before) + 1;
            const [sig, ts] = before;
            let row: Row;
            if (kind === 0) row = [`${L}/nowhere`, ts, 1, 'good'];
            else if (kind === 1) row = [sig, ts + 0.5, Number.NaN, 'good'];
            else if (kind === 2) row = [sig, ts + 0.5, 'x', 'good'];
            else if (kind === 3) row = [sig, ts - 1, 1e9, 'good'];
            else row = [...before]; // the same sample again
            dirty.splice(at, 0, row);
            expectedBad++;
          }
          const a = kpisOf(clean, t0, t1);
          const b = kpisOf(dirty, t0, t1);
          expect(b.k?.stateDurationsMs).toEqual(a.k?.stateDurationsMs);
          expect(b.k?.partsTotal).toBe(a.k?.partsTotal);
          expect(b.k?.oee).toEqual(a.k?.oee);
          const rejected = b.stats.reduce(
            (n, s) => n + s.unknownSignal + s.nan + s.wrongType + s.backwards + s.duplicate,
            0,
          );
          expect(rejected).toBe(expectedBad);
        },
      ),
      { numRuns: 60 },
    );
  });
});
