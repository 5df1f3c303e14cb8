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
      anomalyBaselines: 0,
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

describe('restore: anomaly detection', () => {
  it('a line taken over is judged against the baselines its previous owner learnt, as if undisturbed', async () => {
    const model = await loadModelFile(PLANT);
    const historian = new MemoryHistorian();
    const t0 = Date.UTC(2026, 0, 5, 0, 0);
    const V = `${L}/press/vibration`;
    // The press runs; its vibration at 1 Hz is 2.0 mm/s with a deterministic wobble, and from
    // minute 50 it sits 0.5 mm/s higher (a level shift, several σ of its minute means).
    const vib = (s: number): number =>
      2 + 0.1 * Math.sin(s * 1.7) * Math.cos(s * 0.31) + (s >= 3000 ? 0.5 : 0);
    const batchAt = (s: number) => {
      const b = new SampleBatchBuilder();
      if (s === 0) b.push(`${L}/press/state`, t0, PACKML_CODE.Execute);
      b.push(V, t0 + s * 1000, vib(s));
      return b.build();
    };
    const undisturbed = createEngine({ model, clock: new ManualClock(t0), logger: silentLogger() });
    // The first owner takes minutes 0–45 in (the historian writer stores them beside it), then dies.
    const first = createEngine({ model, clock: new ManualClock(t0), logger: silentLogger(), historian });
    const cut = 45 * 60;
    for (let s = 0; s < cut; s++) {
      const b = batchAt(s);
      undisturbed.ingest(b);
      first.ingest(b);
      await historian.append(b);
    }
    await first.stop();
    const events = await historian.queryEvents({ fromMs: t0, toMs: t0 + cut * 1000, kind: 'system' });
    // Baselines formed after 600 samples and after 30 minute means.
    expect(events.map((e) => [e.source, e.data.type])).toEqual([
      [V, 'anomaly-baseline'],
      [V, 'anomaly-baseline'],
    ]);
    const next = createEngine({
      model,
      clock: new ManualClock(t0 + cut * 1000),
      logger: silentLogger(),
      historian,
    });
    const summary = await next.restore({ line: L, asOfMs: t0 + cut * 1000 - 1000 });
    expect(summary.anomalyBaselines).toBe(1);
    const fresh = createEngine({ model, clock: new ManualClock(t0 + cut * 1000), logger: silentLogger() });
    for (let s = cut; s < 65 * 60; s++) {
      const b = batchAt(s);
      undisturbed.ingest(b);
      next.ingest(b);
      fresh.ingest(b);
    }
    const after = (e: typeof next) =>
      e
        .anomalies(t0 + cut * 1000)
        .map((a) => `${a.kind}@${(a.ts - t0) / 1000}`)
        .sort();
    expect(after(undisturbed).length).toBeGreaterThan(0);
    // The shift is seen as the undisturbed engine saw it ...
    expect(after(next)).toEqual(after(undisturbed));
    // ... where an engine without the history learns the shifted level as its baseline and sees
    // nothing (or other things).
    expect(after(fresh)).not.toEqual(after(undisturbed));
    for (const e of [undisturbed, next, fresh]) await e.stop();
  });
});

function batchOf(signal: string, ts: number, value: number) {
  const b = new SampleBatchBuilder();
  b.push(signal, ts, value);
  return b.build();
}
