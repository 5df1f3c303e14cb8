// State events reach the historian even when it is slow or briefly unavailable: the engine keeps
// one append in flight, batching what piles up meanwhile, and keeps events whose append failed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type HistorianEvent,
  ManualClock,
  PACKML_CODE,
  parseModel,
  SampleBatchBuilder,
  silentLogger,
} from '@gemba/core';
import { MemoryHistorian } from '@gemba/core/testing';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.ts';

const PLANT = fileURLToPath(new URL('../../../examples/demo-line/plant.yaml', import.meta.url));
const L = 'acme/plant1/assembly/line1';

/** A MemoryHistorian whose appendEvents fails while `down` and records each call's size. */
class FlakyHistorian extends MemoryHistorian {
  down = false;
  calls: number[] = [];
  override async appendEvents(events: readonly HistorianEvent[]): Promise<void> {
    this.calls.push(events.length);
    // Slow like a loaded store: later ingests happen while this append is in flight.
    await new Promise<void>((r) => setTimeout(r, 5));
    if (this.down) throw new Error('store unavailable');
    return super.appendEvents(events);
  }
}

describe('engine → historian events', () => {
  it('batches events that pile up behind a slow append and keeps those whose append failed', async () => {
    const model = parseModel(readFileSync(PLANT, 'utf8'));
    const clock = new ManualClock();
    const h = new FlakyHistorian();
    const e = createEngine({ model, clock, logger: silentLogger(), historian: h });
    const t0 = clock.now();
    const changes = 200;
    h.down = true;
    for (let i = 0; i < changes; i++) {
      const b = new SampleBatchBuilder(1);
      b.push(`${L}/press/state`, t0 + i * 1000, i % 2 === 0 ? PACKML_CODE.Execute : PACKML_CODE.Suspended);
      e.ingest(b.build());
      if (i === changes / 2) {
        await new Promise<void>((r) => setTimeout(r, 20));
        h.down = false;
      }
    }
    await e.stop();
    const stored = await h.queryEvents({ fromMs: t0 - 1, toMs: t0 + changes * 1000 + 1, kind: 'state' });
    const press = stored.filter((ev) => ev.source === `${L}/press`);
    // Every state change but the last (still open at stop, written as open) is one event.
    expect(press.length).toBeGreaterThanOrEqual(changes - 1);
    expect(new Set(press.map((ev) => ev.ts)).size).toBe(press.length);
    // Far fewer appends than ingested batches: events were batched while an append was in flight.
    expect(h.calls.length).toBeLessThan(changes / 4);
  });
});
