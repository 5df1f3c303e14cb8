import { fileURLToPath } from 'node:url';
import {
  loadModelFile,
  ManualClock,
  PACKML_CODE,
  type SampleBatch,
  SampleBatchBuilder,
  type SampleValue,
  silentLogger,
} from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';

const PLANT = fileURLToPath(new URL('../../../examples/demo-line/plant.yaml', import.meta.url));
const L = 'acme/plant1/assembly/line1';

describe('restore', () => {
  it('brings back state history, counts and the current state from the historian', async () => {
    const model = await loadModelFile(PLANT);
    const historian = new MemoryHistorian();
    const t0 = Date.UTC(2026, 0, 5, 0, 0); // night shift (Berlin), no break in the first 2 h
    const clock = new ManualClock(t0);
    const a = createEngine({ model, clock, logger: silentLogger(), historian });
    const stream: SampleBatch[] = [];
    const feed = async (rows: Array<[string, number, SampleValue]>): Promise<void> => {
      const b = new SampleBatchBuilder();
      for (const [s, ts, v] of rows) b.push(`${L}/${s}`, ts, v);
      const batch = b.build();
      stream.push(batch);
      a.ingest(batch);
      await historian.append(batch); // what the historian writer does beside the engine
    };
    await feed([
      ['weld/state', t0, PACKML_CODE.Execute],
      ['weld/state_reason', t0, 0],
      ['weld/fault_code', t0, 0],
      ['weld/parts_total', t0, 100],
      ['weld/parts_good', t0, 90],
    ]);
    for (let i = 1; i <= 30; i++) {
      await feed([
        ['weld/parts_total', t0 + i * 30_000, 100 + i],
        ['weld/parts_good', t0 + i * 30_000, 90 + i],
      ]);
    }
    await feed([
      ['weld/state', t0 + 900_000, PACKML_CODE.Suspended],
      ['weld/state_reason', t0 + 900_000, 1],
    ]);
    await feed([
      ['weld/state', t0 + 1_200_000, PACKML_CODE.Aborted],
      ['weld/fault_code', t0 + 1_200_000, 204],
      ['weld/state_reason', t0 + 1_200_000, 0],
    ]);
    clock.set(t0 + 1_800_000);
    const window = { fromMs: t0, toMs: t0 + 1_800_000 };
    const before = a.stationKpis(`${L}/weld`, window);
    await a.stop();

    const b = createEngine({ model, clock, logger: silentLogger(), historian });
    expect(await b.restore({ fromMs: t0, line: 'acme/plant1/other' })).toEqual({
      intervals: 0,
      counterSamples: 0,
      signals: 0,
    });
    const summary = await b.restore({ fromMs: t0, line: L });
    expect(summary.intervals).toBe(2);
    expect(summary.counterSamples).toBe(62);
    const after = b.stationKpis(`${L}/weld`, window);
    expect(b.asset(`${L}/weld`)).toMatchObject({ state: 'down', since: t0 + 1_200_000, reason: 'fault 204' });
    expect(after?.stateDurationsMs).toEqual(before?.stateDurationsMs);
    expect(after?.partsTotal).toBe(30);
    expect(after?.oee).toEqual(before?.oee);
    expect(b.signal(`${L}/weld/parts_total`)?.value).toBe(130);
    // New data continues from there.
    b.ingest(batchOf(`${L}/weld/parts_total`, t0 + 1_900_000, 131));
    expect(b.stationKpis(`${L}/weld`)?.partsTotal).toBe(31);
    // Restoring the line again replaces what the engine held for it (a line back on this node).
    await b.restore({ line: L });
    expect(b.stationKpis(`${L}/weld`)?.partsTotal).toBe(30);
    expect(b.signal(`${L}/weld/parts_total`)?.value).toBe(130);
    // Once data was taken in, restoring the whole engine does nothing.
    expect((await b.restore()).signals).toBe(0);
    await b.stop();

    // As of a point in the stream: the historian is ahead (it holds everything), the engine
    // restores up to the cut and takes the stream in from there, including a batch before the
    // cut delivered again: the same states, intervals and counts as the undisturbed engine.
    const events = await historian.queryEvents({ fromMs: t0, toMs: t0 + 1_800_000, kind: 'state' });
    const c = createEngine({ model, clock, logger: silentLogger(), historian });
    const cut = 16; // after the counter batch at t0 + 450 s
    const asOfMs = Math.max(...(stream[cut - 1]?.ts ?? []));
    expect(asOfMs).toBe(t0 + 450_000);
    expect((await c.restore({ fromMs: t0, line: L, asOfMs })).counterSamples).toBe(32);
    for (const batch of stream.slice(cut - 1)) c.ingest(batch);
    expect(c.stationKpis(`${L}/weld`, window)?.oee).toEqual(before?.oee);
    expect(c.stationKpis(`${L}/weld`, window)?.stateDurationsMs).toEqual(before?.stateDurationsMs);
    expect(c.asset(`${L}/weld`)).toMatchObject({ state: 'down', since: t0 + 1_200_000, reason: 'fault 204' });
    await c.stop();
    // The state events, derived again, are the ones the first engine wrote (same ids, same data).
    expect(await historian.queryEvents({ fromMs: t0, toMs: t0 + 1_800_000, kind: 'state' })).toEqual(events);
  });

  it('writes the state events a previous owner had not written', async () => {
    const model = await loadModelFile(PLANT);
    const historian = new MemoryHistorian();
    const t0 = Date.UTC(2026, 0, 5, 0, 0);
    const clock = new ManualClock(t0 + 600_000);
    const b = new SampleBatchBuilder();
    for (let i = 0; i < 10; i++) {
      b.push(`${L}/press/state`, t0 + i * 60_000, i % 2 === 0 ? PACKML_CODE.Execute : PACKML_CODE.Held);
      b.push(`${L}/press/parts_total`, t0 + i * 60_000, i * 5);
    }
    await historian.append(b.build()); // raw samples only: the engine that took them in died
    const e = createEngine({ model, clock, logger: silentLogger(), historian });
    const summary = await e.restore({ fromMs: t0, line: L });
    expect(summary.intervals).toBe(9);
    await e.stop();
    const events = await historian.queryEvents({ fromMs: t0, toMs: t0 + 600_000, kind: 'state' });
    expect(events.map((x) => x.id)).toEqual(
      Array.from({ length: 9 }, (_, i) => `${L}/press@${t0 + i * 60_000}`),
    );
    expect(e.stationKpis(`${L}/press`, { fromMs: t0, toMs: t0 + 600_000 })?.oee.producedQuantity).toBe(45);
  });
});

function batchOf(signal: string, ts: number, value: number) {
  const b = new SampleBatchBuilder();
  b.push(signal, ts, value);
  return b.build();
}
