import { randomUUID } from 'node:crypto';
import { busContractSuite } from '@gemba/core/testing';
import { afterAll, describe } from 'vitest';
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
