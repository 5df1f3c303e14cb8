import { randomUUID } from 'node:crypto';
import { busContractSuite, Collector, taggedBatch, tagOf } from '@gemba/core/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JetStreamBus } from '../src/index.ts';
import { testNats } from './nats-url.ts';

const nats = await testNats();
const skip = nats === undefined ? 'no nats-server' : undefined;

/** Deletes every stream whose name starts with `prefix` (this fixture's streams only). */
async function deleteStreams(bus: JetStreamBus, prefix: string): Promise<void> {
  const jsm = bus.manager;
  for await (const name of jsm.streams.names())
    if (name.startsWith(`${prefix}_`)) await jsm.streams.delete(name);
}

afterAll(async () => {
  await nats?.release();
});

describe.skipIf(skip !== undefined)('JetStreamBus on a real nats-server', () => {
  busContractSuite('nats-jetstream', async () => {
    // One stream per contract-suite prefix (gemba.samples.t<random>.>), names unique to this run.
    const namePrefix = `GT${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const bus = await JetStreamBus.connect(
      { servers: nats?.url as string, name: 'gemba-test-bus' },
      { layout: { namePrefix, siteDepth: 1 }, stream: { storage: 'memory', maxAgeMs: 600_000 } },
    );
    return {
      bus,
      cleanup: async () => {
        await deleteStreams(bus, namePrefix);
        await bus.close();
      },
    };
  });
});

describe.skipIf(skip !== undefined)('JetStreamBus specifics', () => {
  let bus: JetStreamBus;
  let namePrefix: string;
  let site: string;
  beforeEach(async () => {
    namePrefix = `GT${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    site = `gemba.samples.t${randomUUID().replaceAll('-', '').slice(0, 8)}.p1`;
    bus = await JetStreamBus.connect(
      { servers: nats?.url as string, name: 'gemba-test-bus-specifics' },
      { layout: { namePrefix }, stream: { storage: 'memory', maxAgeMs: 600_000 } },
    );
  });
  afterEach(async () => {
    await deleteStreams(bus, namePrefix);
    await bus.close();
  });

  it('rejects filters that span sites, a second run of one durable, and another filter for it', async () => {
    await expect(bus.consume({ durable: 'x', filter: 'gemba.samples.>' }, () => {})).rejects.toMatchObject({
      code: 'GEMBA_BUS_INVALID_SUBJECT',
    });
    const s = await bus.consume({ durable: 'one', filter: `${site}.>` }, (m) => m.ack());
    await expect(bus.consume({ durable: 'one', filter: `${site}.>` }, () => {})).rejects.toMatchObject({
      code: 'GEMBA_INVALID_ARGUMENT',
    });
    await s.stop();
    await expect(bus.consume({ durable: 'one', filter: `${site}.a` }, () => {})).rejects.toMatchObject({
      code: 'GEMBA_INVALID_ARGUMENT',
    });
    await bus.deleteConsumer('one');
    await expect(bus.pending('one')).rejects.toMatchObject({ code: 'GEMBA_INVALID_ARGUMENT' });
  });

  it('drops a message that is not a sample batch and keeps the stream flowing', async () => {
    await bus.publish(`${site}.l`, taggedBatch(0)); // creates the stream
    await bus.connection.request(`${site}.l`, new TextEncoder().encode('not a batch'));
    await bus.publish(`${site}.l`, taggedBatch(2));
    const got = new Collector<number>();
    await bus.consume({ durable: 'poison', filter: `${site}.>` }, (m) => {
      got.push(tagOf(m.batch));
      m.ack();
    });
    expect(await got.waitFor(2)).toEqual([0, 2]);
    await expect.poll(() => bus.pending('poison')).toBe(0);
  });

  it('counts what it stored and fails clearly after close', async () => {
    await bus.publish(`${site}.l`, taggedBatch(1), { msgId: `${site}-1` });
    await bus.publish(`${site}.l`, taggedBatch(1), { msgId: `${site}-1` });
    expect(bus.stats).toMatchObject({ published: 1, duplicates: 1, publishFailures: 0 });
    const other = await JetStreamBus.connect({ servers: nats?.url as string }, { layout: { namePrefix } });
    await other.close();
    await expect(other.publish(`${site}.l`, taggedBatch(2))).rejects.toMatchObject({
      code: 'GEMBA_BUS_CLOSED',
    });
  });
});
