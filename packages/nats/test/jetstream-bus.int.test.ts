import { randomUUID } from 'node:crypto';
import { busContractSuite, serviceSkipReason } from '@gemba/core/testing';
import { describe } from 'vitest';
import { JetStreamBus } from '../src/index.ts';

const NATS_URL = 'nats://127.0.0.1:4222';
const skip = await serviceSkipReason('nats');

/** Deletes every stream whose name starts with `prefix` (this fixture's streams only). */
async function deleteStreams(bus: JetStreamBus, prefix: string): Promise<void> {
  const jsm = bus.manager;
  for await (const name of jsm.streams.names())
    if (name.startsWith(`${prefix}_`)) await jsm.streams.delete(name);
}

describe.skipIf(skip !== undefined)('JetStreamBus on the shared nats-server', () => {
  busContractSuite('nats-jetstream', async () => {
    // One stream per contract-suite prefix (gemba.samples.t<random>.>), names unique to this run.
    const namePrefix = `GT${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const bus = await JetStreamBus.connect(
      { servers: NATS_URL, name: 'gemba-test-bus' },
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
