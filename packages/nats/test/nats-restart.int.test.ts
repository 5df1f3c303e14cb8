import type { BusMessage } from '@gemba/core';
import { Collector, commandSkipReason, taggedBatch } from '@gemba/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { JetStreamBus } from '../src/index.ts';
import { NATS_SERVER_BIN, NatsServerProcess } from '../src/testing/index.ts';
import { checkDeliveries } from './stream-check.ts';

const skip = await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server');

describe.skipIf(skip !== undefined)('JetStreamBus across a nats-server restart', () => {
  let srv: NatsServerProcess | undefined;
  let bus: JetStreamBus | undefined;
  afterEach(async () => {
    await bus?.close();
    await srv?.cleanup();
  });

  it('loses and duplicates nothing when the server stops and starts during a steady stream', async () => {
    srv = await NatsServerProcess.start();
    bus = await JetStreamBus.connect(
      { servers: srv.url, name: 'gemba-test-restart', reconnectWaitMs: 100 },
      { layout: { namePrefix: 'GEMBA' }, publishTimeoutMs: 30_000, ackTimeoutMs: 1_000 },
    );
    const subject = 'gemba.samples.acme.plant1.assembly.line1';
    const delivered: BusMessage[] = [];
    const fresh = new Collector<number>();
    const seqs = new Set<number>();
    await bus.consume(
      { durable: 'restart', filter: 'gemba.samples.acme.plant1.>', ackWaitMs: 2_000 },
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
    const restartAt = 150;
    let outage: Promise<void> | undefined;
    const window: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      // A steady pipelined stream: at most 16 publishes awaiting their acknowledgement.
      window.push(bus.publish(subject, taggedBatch(i, 100)));
      if (window.length >= 16) await window.shift();
      if (i === restartAt) {
        // The server is surely down while the next publishes go out; it comes back meanwhile.
        await srv.stop('SIGTERM');
        outage = srv.restart();
      }
    }
    await Promise.all(window);
    await outage;
    expect(bus.stats.publishRetries).toBeGreaterThan(0);

    await fresh.waitFor(n, 30_000);
    const report = checkDeliveries(delivered, n);
    expect(report.missingTags).toEqual([]);
    expect(report.duplicateTags).toEqual([]);
    expect(report.distinctMessages).toBe(n);
    const info = await bus.manager.streams.info('GEMBA_acme_plant1');
    expect(info.state.messages).toBe(n);
    await expect.poll(() => bus?.pending('restart'), { timeout: 10_000 }).toBe(0);
  });
});
