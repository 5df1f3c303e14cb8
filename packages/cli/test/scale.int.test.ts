import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFile, SampleBatch, silentLogger, subjectForPath } from '@gemba/core';
import { commandSkipReason } from '@gemba/core/testing';
import { JetStreamBus } from '@gemba/nats';
import { NATS_SERVER_BIN, NatsServerProcess } from '@gemba/nats/testing';
import { startPlant } from '@gemba/plant';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiNode, startEngineNode, startGatewayNode } from '../src/scale-nodes.ts';

const skip = await commandSkipReason(NATS_SERVER_BIN, 'apt-get install nats-server');

describe.skipIf(skip !== undefined)('scaled-out processes (engine and api nodes on NATS)', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  it('an engine node consumes its line and a stateless api node serves the twin from NATS KV', async () => {
    const srv = await NatsServerProcess.start();
    stops.push(() => srv.cleanup());
    const dir = mkdtempSync(join(tmpdir(), 'gemba-scale-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const model = await loadModelFile('examples/demo-line/plant.yaml');
    const line = model.lines[0]?.path as string;
    const logger = silentLogger();

    const engine = await startEngineNode({
      model,
      busUrl: srv.url,
      historianUrl: join(dir, 'engine-historian'),
      member: 'engine-a',
      leaseMs: 1_000,
      twinFlushMs: 50,
      logger,
    });
    stops.push(() => engine.stop());
    expect(engine.owned()).toEqual([line]);

    const gateway = await JetStreamBus.connect({ servers: srv.url, name: 'test-gateway' });
    stops.push(() => gateway.close());
    const signal = `${line}/press/vibration`;
    const ts = Date.now();
    await gateway.publish(
      subjectForPath(line),
      SampleBatch.fromSamples([{ signal, ts, value: 2.5, quality: 'good' }]),
      { msgId: 'scale-test-1' },
    );

    const api = await startApiNode({
      model,
      busUrl: srv.url,
      historianUrl: join(dir, 'api-historian'),
      host: '127.0.0.1',
      port: 0,
      logger,
    });
    stops.push(() => api.stop());
    const twinValue = async (): Promise<unknown> => {
      const res = await fetch(`${api.url}/api/twin?pattern=${encodeURIComponent(signal)}`, {
        headers: { authorization: `Bearer ${api.token}` },
      });
      const body = (await res.json()) as { entries: { kind: string; value?: unknown }[] };
      return body.entries.find((e) => e.kind === 'value')?.value;
    };
    await expect.poll(twinValue, { timeout: 15_000 }).toBe(2.5);
  });

  it('a gateway node publishes what the plant emulator serves to the line’s stream', async () => {
    const srv = await NatsServerProcess.start();
    stops.push(() => srv.cleanup());
    const dir = mkdtempSync(join(tmpdir(), 'gemba-scale-gw-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const model = await loadModelFile('examples/demo-line/plant.yaml');
    // Only the Modbus part of the emulator (no OPC UA certificates, no MQTT broker needed).
    const plant = await startPlant({ model, opcuaPort: false, modbusPort: 0, seed: 7 });
    stops.push(() => plant.stop());
    const gw = await startGatewayNode({
      model,
      busUrl: srv.url,
      dataDir: dir,
      sources: ['modbus-oven'],
      overrides: plant.sourceOverrides(),
      logger: silentLogger(),
    });
    stops.push(() => gw.stop());
    const reader = await JetStreamBus.connect({ servers: srv.url, name: 'test-reader' });
    stops.push(() => reader.close());
    const line = model.lines[0]?.path as string;
    const seen = new Set<string>();
    await reader.consume({ durable: 'check', filter: subjectForPath(line) }, (m) => {
      for (const s of m.batch.signals) seen.add(s);
      m.ack();
    });
    await expect.poll(() => seen.has(`${line}/oven/zone2/temperature`), { timeout: 15_000 }).toBe(true);
  });
});
