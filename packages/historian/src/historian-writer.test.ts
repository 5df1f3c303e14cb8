import {
  type BucketRow,
  type Historian,
  InProcessBus,
  type SampleBatch,
  SampleBatchBuilder,
  silentLogger,
} from '@gemba/core';
import { HISTORIAN_T0, MemoryHistorian } from '@gemba/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { startHistorianWriter } from './historian-writer.ts';

const SIG = 'acme/p/a/l/press/count';

function batch(from: number, n: number): SampleBatch {
  const b = new SampleBatchBuilder(n);
  for (let i = from; i < from + n; i++) b.pushNumber(SIG, HISTORIAN_T0 + i, i);
  return b.build();
}

async function count(h: Historian): Promise<number> {
  const rows: BucketRow[] = await h.queryBuckets(
    [SIG],
    { fromMs: HISTORIAN_T0, toMs: HISTORIAN_T0 + 3_600_000 },
    3_600_000,
  );
  return rows[0]?.count ?? 0;
}

/** A real MemoryHistorian behind a switch that makes appends fail, as an unreachable store would. */
class SwitchableStore extends MemoryHistorian {
  down = false;
  attempts = 0;
  override async append(b: SampleBatch): Promise<void> {
    this.attempts++;
    if (this.down) throw new Error('store unreachable (injected)');
    await super.append(b);
  }
}

describe('HistorianWriter', () => {
  it('appends every message, several per append, and acknowledges them', async () => {
    const bus = new InProcessBus();
    const historian = new MemoryHistorian();
    for (let k = 0; k < 200; k++) await bus.publish('gemba.samples.l1', batch(k * 10, 10));
    const writer = await startHistorianWriter({ bus, historian, durable: 'hist', logger: silentLogger() });
    await vi.waitFor(async () => expect(await writer.lag()).toBe(0), { timeout: 10_000, interval: 5 });
    expect(await count(historian)).toBe(2000);
    const s = writer.stats();
    expect(s.messages).toBe(200);
    expect(s.appends).toBeLessThan(200);
    await writer.stop();
    await bus.close();
  });

  it('keeps data on the bus while the store is down and writes it all once it is back', async () => {
    const bus = new InProcessBus();
    const historian = new SwitchableStore();
    historian.down = true;
    const writer = await startHistorianWriter({
      bus,
      historian,
      durable: 'hist',
      initialBackoffMs: 5,
      maxBackoffMs: 20,
    });
    for (let k = 0; k < 50; k++) await bus.publish('gemba.samples.l1', batch(k * 10, 10));
    await vi.waitFor(() => expect(historian.attempts).toBeGreaterThan(3), { timeout: 5000, interval: 5 });
    expect(await writer.lag()).toBe(50); // nothing acknowledged while nothing is durable
    expect(writer.stats().lastError).toMatch(/unreachable/);
    historian.down = false;
    await vi.waitFor(async () => expect(await writer.lag()).toBe(0), { timeout: 10_000, interval: 5 });
    expect(await count(historian)).toBe(500);
    expect(writer.stats().failures).toBeGreaterThan(3);
    await writer.stop();
    await bus.close();
  });

  it('resumes after a stop from the last acknowledged message; repeats are absorbed', async () => {
    const bus = new InProcessBus();
    const historian = new MemoryHistorian();
    const w1 = await startHistorianWriter({ bus, historian, durable: 'hist' });
    for (let k = 0; k < 20; k++) await bus.publish('gemba.samples.l1', batch(k * 10, 10));
    await vi.waitFor(async () => expect(await w1.lag()).toBe(0), { timeout: 10_000, interval: 5 });
    await w1.stop();
    for (let k = 20; k < 40; k++) await bus.publish('gemba.samples.l1', batch(k * 10, 10));
    // A redelivered (repeated) message too.
    await bus.publish('gemba.samples.l1', batch(0, 10));
    expect(await bus.pending('hist')).toBe(21);
    const w2 = await startHistorianWriter({ bus, historian, durable: 'hist' });
    await vi.waitFor(async () => expect(await w2.lag()).toBe(0), { timeout: 10_000, interval: 5 });
    expect(await count(historian)).toBe(400);
    await w2.stop();
    await bus.close();
  });
});

/** A real MemoryHistorian whose appends take `delayMs`, as a loaded store's would. */
class SlowStore extends MemoryHistorian {
  appended = 0;
  constructor(readonly delayMs: number) {
    super();
  }
  override async append(b: SampleBatch): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.appended += b.length;
    await super.append(b);
  }
}

describe('HistorianWriter with a store slower than the ack wait', () => {
  it('does not append redeliveries of messages it holds, and acknowledges them all', async () => {
    const bus = new InProcessBus();
    const historian = new SlowStore(150);
    const writer = await startHistorianWriter({
      bus,
      historian,
      durable: 'hist',
      ackWaitMs: 40,
      maxBatchSamples: 30,
    });
    for (let k = 0; k < 10; k++) await bus.publish('gemba.samples.l1', batch(k * 10, 10));
    await vi.waitFor(async () => expect(await writer.lag()).toBe(0), { timeout: 20_000, interval: 10 });
    expect(await count(historian)).toBe(100);
    expect(historian.appended).toBe(100);
    await writer.stop();
    await bus.close();
  });
});
