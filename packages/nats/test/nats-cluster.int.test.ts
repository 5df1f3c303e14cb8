import type { BusMessage } from '@gemba/core';
import { Collector, commandSkipReason, taggedBatch } from '@gemba/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { JetStreamBus } from '../src/index.ts';
import { NATS_SERVER_BIN, type NatsServerProcess, startNatsCluster } from '../src/testing/index.ts';
import { checkDeliveries } from './stream-check.ts';

const skip = await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server');

describe.skipIf(skip !== undefined)('JetStreamBus on a three-node cluster', () => {
  let servers: NatsServerProcess[] = [];
  let bus: JetStreamBus | undefined;
  afterEach(async () => {
    await bus?.close();
    await Promise.all(servers.map((s) => s.cleanup()));
  });

  it('loses nothing when the stream leader is killed mid-stream (replicas = 3)', async () => {
    servers = await startNatsCluster(3);
    bus = await JetStreamBus.connect(
      { servers: servers.map((s) => s.url), name: 'gemba-test-cluster', reconnectWaitMs: 100 },
      { stream: { replicas: 3 }, publishTimeoutMs: 30_000, ackTimeoutMs: 2_000, readyTimeoutMs: 30_000 },
    );
    const subject = 'gemba.samples.acme.plant2.assembly.line1';
    const ref = bus.layout.forSubject(subject);
    // A new cluster elects its meta leader first; stream creation fails until then.
    const readyBy = Date.now() + 30_000;
    for (;;) {
      try {
        await bus.ensureStream(ref);
        break;
      } catch (err: unknown) {
        if (Date.now() > readyBy) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const delivered: BusMessage[] = [];
    const fresh = new Collector<number>();
    const seqs = new Set<number>();
    await bus.consume(
      { durable: 'cluster', filter: 'gemba.samples.acme.plant2.>', ackWaitMs: 3_000 },
      (m) => {
        delivered.push(m);
        if (!seqs.has(m.seq)) {
          seqs.add(m.seq);
          fresh.push(m.seq);
        }
        m.ack();
      },
    );

    const n = 400;
    const killAt = 150;
    const window: Promise<unknown>[] = [];
    let killed: NatsServerProcess | undefined;
    for (let i = 0; i < n; i++) {
      window.push(bus.publish(subject, taggedBatch(i, 100)));
      if (window.length >= 16) await window.shift();
      if (i === killAt) {
        // Kill the node leading the stream: the hardest case (a new leader must be elected).
        const info = await bus.manager.streams.info(ref.name);
        expect(info.config.num_replicas).toBe(3);
        const leader = info.cluster?.leader;
        killed = servers.find((_, k) => `n${k + 1}` === leader) ?? servers[0];
        await killed?.stop('SIGKILL');
      }
    }
    await Promise.all(window);
    expect(killed?.running).toBe(false);

    await fresh.waitFor(n, 30_000);
    const report = checkDeliveries(delivered, n);
    expect(report.missingTags).toEqual([]);
    expect(report.duplicateTags).toEqual([]);
    expect(report.distinctMessages).toBe(n);
    const info = await bus.manager.streams.info(ref.name);
    expect(info.state.messages).toBe(n);
  });
});
