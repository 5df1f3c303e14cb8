import { describe, expect, it } from 'vitest';
import { busContractSuite, Collector, taggedBatch, tagOf } from '../testing/index.ts';
import { InProcessBus } from './in-process-bus.ts';

busContractSuite('in-process', async () => {
  const bus = new InProcessBus();
  return { bus, cleanup: () => bus.close() };
});

describe('InProcessBus', () => {
  it('bounds memory: a publisher waits while the stream is full of unacknowledged messages', async () => {
    const bus = new InProcessBus({ maxMessages: 5 });
    const held: (() => void)[] = [];
    const got = new Collector<number>();
    await bus.consume({ durable: 'slow', filter: 'gemba.samples.>', maxAckPending: 100 }, (m) => {
      got.push(tagOf(m.batch));
      held.push(() => m.ack());
    });
    let published = 0;
    const publisher = (async () => {
      for (let i = 0; i < 20; i++) {
        await bus.publish('gemba.samples.l', taggedBatch(i));
        published++;
      }
    })();
    await got.waitFor(5);
    await new Promise((r) => setImmediate(r));
    expect(published).toBe(5); // the sixth publish waits for room
    expect(await bus.pending('slow')).toBe(5);
    // Acknowledge as they come: everything arrives, in order, nothing lost.
    const drain = setInterval(() => {
      for (const a of held.splice(0)) a();
    }, 1);
    await publisher;
    await got.waitFor(20);
    clearInterval(drain);
    for (const a of held.splice(0)) a();
    expect(got.items).toEqual([...Array(20).keys()]);
    await bus.close();
  });

  it('discards acknowledged history beyond its size but keeps replay within it', async () => {
    const bus = new InProcessBus({ maxMessages: 3 });
    for (let i = 0; i < 10; i++) await bus.publish('gemba.samples.l', taggedBatch(i));
    const got = new Collector<number>();
    await bus.consume({ durable: 'late', filter: 'gemba.samples.>', deliverFrom: { kind: 'all' } }, (m) => {
      got.push(tagOf(m.batch));
      m.ack();
    });
    expect(await got.waitFor(3)).toEqual([7, 8, 9]);
    await bus.close();
  });

  it('fails clearly after close', async () => {
    const bus = new InProcessBus();
    await bus.close();
    await expect(bus.publish('gemba.samples.l', taggedBatch(0))).rejects.toMatchObject({
      code: 'GEMBA_BUS_CLOSED',
    });
  });

  it('rejects malformed subjects', async () => {
    const bus = new InProcessBus();
    await expect(bus.publish('gemba..x', taggedBatch(0))).rejects.toMatchObject({
      code: 'GEMBA_BUS_INVALID_SUBJECT',
    });
    await expect(bus.consume({ durable: 'x', filter: 'a.>.b' }, () => {})).rejects.toMatchObject({
      code: 'GEMBA_BUS_INVALID_SUBJECT',
    });
    await bus.close();
  });
});
