import { randomUUID } from 'node:crypto';
import { SampleBatchBuilder, subjectForPath } from '@gemba/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JetStreamBus, restorePoint } from '../src/index.ts';
import { testNats } from './nats-url.ts';

const nats = await testNats();
const skip = nats === undefined ? 'no nats-server' : undefined;

afterAll(async () => {
  await nats?.release();
});

/** A batch of `n` samples of one signal at `fromMs`, `fromMs + 1`, … */
function batchAt(signal: string, fromMs: number, n = 100) {
  const b = new SampleBatchBuilder(n);
  for (let i = 0; i < n; i++) b.pushNumber(signal, fromMs + i, i);
  return b.build();
}

describe.skipIf(skip !== undefined)('restorePoint', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('is the historian durable’s ack floor and the newest source time there', async () => {
    const run = randomUUID().replaceAll('-', '').slice(0, 10);
    const namePrefix = `GR${run}`;
    const bus = await JetStreamBus.connect(
      { servers: nats?.url as string, name: 'gemba-test-restore-point' },
      { layout: { namePrefix }, stream: { storage: 'memory', maxAgeMs: 600_000 } },
    );
    cleanups.push(async () => {
      for await (const name of bus.manager.streams.names())
        if (name.startsWith(`${namePrefix}_`)) await bus.manager.streams.delete(name);
      await bus.close();
    });
    const [a, b] = [1, 2].map((i) => `t${run}/p1/assembly/line${i}`) as [string, string];
    const subject = subjectForPath(a);
    // No stream yet: everything the historian holds.
    expect(await restorePoint(bus, subject, 'hist-a')).toEqual({ seq: 0, asOfMs: Infinity });

    // Line a's messages in source-time order, another line's in between (same stream).
    const seqs: number[] = [];
    for (let k = 1; k <= 3; k++) {
      seqs.push((await bus.publish(subject, batchAt(`${a}/press/motor_current`, k * 1_000))).seq);
      await bus.publish(subjectForPath(b), batchAt(`${b}/press/motor_current`, k * 1_000 + 500));
    }
    // Nothing written yet: restore up to just before line a's first message.
    expect(await restorePoint(bus, subject, 'hist-a')).toEqual({ seq: 0, asOfMs: 999 });

    // The writer acknowledged two messages: the historian holds them, up to 2 099. (JetStream may
    // move a filtered consumer's ack floor past other subjects' messages: then the message there
    // is line b's, and the point is just before line a's next message, at 2 999.)
    let acks = 2;
    const sub = await bus.consume({ durable: 'hist-a', filter: subject, ackWaitMs: 60_000 }, (m) => {
      if (acks-- > 0) m.ack();
    });
    cleanups.push(() => sub.stop());
    await expect
      .poll(async () => (await restorePoint(bus, subject, 'hist-a')).seq)
      .toBeGreaterThanOrEqual(seqs[1] as number);
    const point = await restorePoint(bus, subject, 'hist-a');
    expect(point.seq).toBeLessThan(seqs[2] as number);
    expect(point.asOfMs).toBe(point.seq === seqs[1] ? 2_099 : 2_999);

    // The message at the ack floor is gone (e.g. retention): just before the next one's oldest sample.
    await bus.manager.streams.deleteMessage(bus.layout.forFilter(subject).name, seqs[1] as number);
    expect(await restorePoint(bus, subject, 'hist-a')).toEqual({ seq: point.seq, asOfMs: 2_999 });

    // A line alone in its stream (another site): the ack floor is its own message.
    const c = `t${run}/p3/assembly/line1`;
    const cSeqs: number[] = [];
    for (let k = 1; k <= 3; k++)
      cSeqs.push((await bus.publish(subjectForPath(c), batchAt(`${c}/press/motor_current`, k * 1_000))).seq);
    let cAcks = 2;
    const subC = await bus.consume(
      { durable: 'hist-c', filter: subjectForPath(c), ackWaitMs: 60_000 },
      (m) => {
        if (cAcks-- > 0) m.ack();
      },
    );
    cleanups.push(() => subC.stop());
    await expect
      .poll(() => restorePoint(bus, subjectForPath(c), 'hist-c'))
      .toEqual({ seq: cSeqs[1], asOfMs: 2_099 });
  });
});
