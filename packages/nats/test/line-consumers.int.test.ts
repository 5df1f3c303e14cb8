import { randomUUID } from 'node:crypto';
import type { BusMessage } from '@gemba/core';
import { Collector, taggedBatch, tagOf } from '@gemba/core/testing';
import { Kvm } from '@nats-io/kv';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JetStreamBus, type LineConsumers, startLineConsumers } from '../src/index.ts';
import { testNats } from './nats-url.ts';

const nats = await testNats();
const skip = nats === undefined ? 'no nats-server' : undefined;

afterAll(async () => {
  await nats?.release();
});

describe.skipIf(skip !== undefined)('line consumers across a group of processes', () => {
  const buses: JetStreamBus[] = [];
  const groups: LineConsumers[] = [];
  let namePrefix = '';
  let leaseBucket = '';
  afterEach(async () => {
    for (const g of groups.splice(0)) await g.stop();
    const admin = buses[0] as JetStreamBus;
    for await (const name of admin.manager.streams.names())
      if (name.startsWith(`${namePrefix}_`)) await admin.manager.streams.delete(name);
    await (await new Kvm(admin.connection).open(leaseBucket)).destroy();
    for (const b of buses.splice(0)) await b.close();
  });

  it('moves a killed member’s lines to the survivor, which resumes them with nothing lost', async () => {
    const run = randomUUID().replaceAll('-', '').slice(0, 10);
    namePrefix = `GT${run}`;
    leaseBucket = `gemba-leases-test-${run}`;
    const lines = [1, 2, 3, 4, 5, 6].map((i) => `t${run}/p1/assembly/line${i}`);
    const connect = async (name: string): Promise<JetStreamBus> => {
      const bus = await JetStreamBus.connect(
        { servers: nats?.url as string, name },
        { layout: { namePrefix }, stream: { storage: 'memory', maxAgeMs: 600_000 } },
      );
      buses.push(bus);
      return bus;
    };
    const publisher = await connect('gemba-test-gateway');
    const seen: { line: string; member: string; m: BusMessage }[] = [];
    const fresh = new Collector<string>();
    const keys = new Set<string>();
    const member = async (name: string): Promise<LineConsumers> => {
      const g = await startLineConsumers({
        bus: await connect(name),
        lines,
        member: name,
        leaseBucket,
        leaseMs: 1_000,
        consume: { ackWaitMs: 2_000 },
        handler: (line) => (m) => {
          seen.push({ line, member: name, m });
          const key = `${line}#${m.seq}`;
          if (!keys.has(key)) {
            keys.add(key);
            fresh.push(key);
          }
          m.ack();
        },
      });
      groups.push(g);
      return g;
    };
    const a = await member('engine-a');
    const b = await member('engine-b');
    await expect.poll(() => [a.owned().length, b.owned().length], { timeout: 10_000 }).toEqual([3, 3]);
    const bLines = b.owned();

    const perLine = 100;
    const window: Promise<unknown>[] = [];
    for (let i = 0; i < perLine; i++) {
      for (const [k, line] of lines.entries())
        window.push(
          publisher.publish(`gemba.samples.${line.replaceAll('/', '.')}`, taggedBatch(k * 1000 + i)),
        );
      while (window.length > 32) await window.shift();
      // Mid-stream, engine-b dies: its connection goes, its leases expire.
      if (i === perLine / 2) await (buses[2] as JetStreamBus).connection.close();
    }
    await Promise.all(window);

    await fresh.waitFor(perLine * lines.length, 30_000);
    expect(a.owned()).toEqual(lines);
    for (const [k, line] of lines.entries()) {
      const tags = new Set(seen.filter((s) => s.line === line).map((s) => tagOf(s.m.batch)));
      expect(tags.size).toBe(perLine);
      expect(Math.min(...tags)).toBe(k * 1000);
    }
    // engine-a took over and resumed each of engine-b's lines.
    for (const line of bLines)
      expect(seen.some((s) => s.line === line && s.member === 'engine-a')).toBe(true);
  });
});
