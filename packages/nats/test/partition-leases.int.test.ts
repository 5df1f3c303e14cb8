import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectNats, PartitionLeases } from '../src/index.ts';
import { testNats } from './nats-url.ts';

const nats = await testNats();
const skip = nats === undefined ? 'no nats-server' : undefined;
const LINES = [1, 2, 3, 4, 5, 6].map((i) => `acme/plant1/assembly/line${i}`);

afterAll(async () => {
  await nats?.release();
});

describe.skipIf(skip !== undefined)('PartitionLeases on a real nats-server', () => {
  const conns: NatsConnection[] = [];
  const members: PartitionLeases[] = [];
  let bucket = '';
  afterEach(async () => {
    for (const m of members.splice(0)) await m.stop();
    const admin = await connectNats({ servers: nats?.url as string });
    await (await new Kvm(admin).open(bucket)).destroy();
    await admin.close();
    for (const c of conns.splice(0)) if (!c.isClosed()) await c.close();
  });

  async function member(
    name: string,
    events: string[],
  ): Promise<{ leases: PartitionLeases; nc: NatsConnection }> {
    const nc = await connectNats({ servers: nats?.url as string, name });
    conns.push(nc);
    const leases = await PartitionLeases.start(nc, {
      partitions: LINES,
      member: name,
      bucket,
      leaseMs: 1_000,
      handlers: {
        acquired: async (p) => {
          events.push(`+${p}`);
        },
        lost: async (p) => {
          events.push(`-${p}`);
        },
      },
    });
    members.push(leases);
    return { leases, nc };
  }

  it('splits six lines over two members and moves a dead member’s lines to the other', async () => {
    bucket = `gemba-leases-test-${randomUUID().slice(0, 8)}`;
    const eventsA: string[] = [];
    const eventsB: string[] = [];
    const a = await member('engine-a', eventsA);
    expect(a.leases.owned()).toEqual(LINES); // alone: every line
    const b = await member('engine-b', eventsB);
    // A notices B, releases down to its share; B takes the released lines.
    await expect
      .poll(() => [a.leases.owned().length, b.leases.owned().length], { timeout: 10_000 })
      .toEqual([3, 3]);
    expect([...a.leases.owned(), ...b.leases.owned()].sort()).toEqual(LINES);
    expect(eventsA.filter((e) => e.startsWith('-'))).toHaveLength(3);

    // B dies (its connection goes away): after the lease time A owns everything again.
    const t0 = Date.now();
    await b.nc.close();
    await expect.poll(() => a.leases.owned(), { timeout: 10_000 }).toEqual(LINES);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // B learnt it lost its leases (it cannot renew), so it stops working on them.
    await expect.poll(() => b.leases.owned(), { timeout: 10_000 }).toEqual([]);
  });

  it('hands lines over at once when a member stops cleanly', async () => {
    bucket = `gemba-leases-test-${randomUUID().slice(0, 8)}`;
    const a = await member('engine-a', []);
    const b = await member('engine-b', []);
    await expect
      .poll(() => [a.leases.owned().length, b.leases.owned().length], { timeout: 10_000 })
      .toEqual([3, 3]);
    await b.leases.stop();
    await expect.poll(() => a.leases.owned(), { timeout: 3_000 }).toEqual(LINES);
  });
});
