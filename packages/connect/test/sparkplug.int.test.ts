import { randomUUID } from 'node:crypto';
import { RealClock, type Sample, type SourceStatus, silentLogger } from '@gemba/core';
import { Collector, serviceSkipReason, sourceContractSuite } from '@gemba/core/testing';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { SparkplugHostSource } from '../src/mqtt/sparkplug/driver.ts';
import { createSource } from '../src/source/create-source.ts';
import { TestEdgeNode, type TestMetric } from './fixtures/edge-node.ts';
import { sig, sourceDef, testModel } from './fixtures/model.ts';

const URL = 'mqtt://127.0.0.1:1883';
const skip = await serviceSkipReason('mosquitto');

const metrics = (): TestMetric[] => [
  { name: 'Motor Current', alias: 1, type: 'Double', value: 5.5 },
  { name: 'Parts/Total', alias: 2, type: 'UInt64', value: 100 },
  { name: 'Running', alias: 3, type: 'Boolean', value: true },
  { name: 'Speed Setpoint', alias: 4, type: 'Double', value: 100 },
];

function spModel(groupId: string, hostId: string) {
  return testModel([
    {
      id: 'sp',
      protocol: 'sparkplug',
      url: URL,
      groupId,
      hostId,
      bindings: [
        { signal: 'm1/power', edgeNode: 'line1', device: 'assembly', metric: 'Motor Current' },
        { signal: 'm1/count', edgeNode: 'line1', device: 'assembly', metric: 'Parts/Total' },
        { signal: 'm1/running', edgeNode: 'line1', device: 'assembly', metric: 'Running' },
        { signal: 'm1/setpoint', edgeNode: 'line1', device: 'assembly', metric: 'Speed Setpoint' },
      ],
    },
  ]);
}

const ALL = [sig('power'), sig('count'), sig('running'), sig('setpoint')];

/** A host application on `model`, collecting its samples and the status events with a problem. */
function startHost(model: ReturnType<typeof spModel>) {
  const source = createSource(sourceDef(model), model, {
    logger: silentLogger(),
    clock: new RealClock(),
  }) as SparkplugHostSource;
  const samples = new Collector<Sample>();
  const problems = new Collector<SourceStatus>();
  source.onBatch((b) => {
    for (const x of b.toSamples()) samples.push(x);
  });
  source.onStatus((x) => {
    if (x.problem !== undefined) problems.push(x);
  });
  return { source, samples, problems };
}

describe.skipIf(skip !== undefined)('Sparkplug B host application against Mosquitto', () => {
  let node: TestEdgeNode | undefined;
  let groupId = '';
  sourceContractSuite('sparkplug (mosquitto)', async () => {
    groupId = `g-${randomUUID().slice(0, 8)}`;
    node = new TestEdgeNode(URL, groupId, 'line1', { assembly: metrics() });
    const model = spModel(groupId, `h-${groupId}`);
    const source = createSource(sourceDef(model), model, { logger: silentLogger(), clock: new RealClock() });
    let i = 0;
    return {
      source,
      signals: ALL,
      produce: async () => {
        // The host asks for a rebirth when it connects; the node answers with births.
        if (node?.client === undefined) await node?.connect();
        else await node.data('assembly', { 'Motor Current': 6 + i++ });
      },
      breakPeer: async () => {
        await node?.die();
      },
      restorePeer: async () => {
        await node?.connect();
      },
      write: {
        signal: sig('setpoint'),
        value: 110,
        readBack: async () => {
          const deadline = Date.now() + 5000;
          for (;;) {
            const v = node?.devices.assembly?.find((m) => m.name === 'Speed Setpoint')?.value;
            if (v === 110 || Date.now() > deadline) return v;
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      },
      cleanup: async () => {
        await node?.stop();
      },
    };
  });

  let source: SparkplugHostSource | undefined;
  afterEach(async () => {
    await source?.stop();
    await node?.stop();
  });

  it('decodes births and aliased data, detects a sequence gap and gets a rebirth, reports bad payloads', async () => {
    groupId = `g-${randomUUID().slice(0, 8)}`;
    const hostId = `h-${groupId}`;
    const model = spModel(groupId, hostId);
    const host = startHost(model);
    source = host.source;
    const { samples, problems } = host;
    // The host's STATE is retained: a watcher sees it online.
    const watcher = await mqtt.connectAsync(URL, { reconnectPeriod: 0 });
    const state = new Collector<string>();
    watcher.on('message', (_t, p) => state.push(p.toString()));
    await watcher.subscribeAsync(`spBv1.0/STATE/${hostId}`);
    try {
      node = new TestEdgeNode(URL, groupId, 'line1', { assembly: metrics() });
      await node.connect();
      await source.start();
      await samples.waitFor(4); // from the rebirth the host asked for on connect
      expect(JSON.parse((await state.waitFor(1))[0] as string)).toMatchObject({ online: true });
      const birth = samples.items.slice(-4);
      expect(birth.map((s) => [s.signal, s.value, s.quality])).toEqual([
        [sig('power'), 5.5, 'good'],
        [sig('count'), 100, 'good'],
        [sig('running'), true, 'good'],
        [sig('setpoint'), 100, 'good'],
      ]);
      const rebirthsBefore = node.rebirths;
      await node.data('assembly', { 'Motor Current': 7.25, 'Parts/Total': 101 });
      await samples.waitFor(6);
      expect(samples.items.slice(4, 6).map((s) => s.value)).toEqual([7.25, 101]);
      // seq jumps: a gap; the host reports it and asks for a rebirth.
      await node.data('assembly', { 'Parts/Total': 105 }, (node.seq + 5) % 256);
      const gap = (await problems.waitFor(1))[0];
      expect(gap?.problem).toBe('sequence-gap');
      expect(gap?.reason).toContain(`spBv1.0/${groupId}/DDATA/line1/assembly`);
      await samples.waitFor(6 + 1 + 4);
      expect(node.rebirths).toBe(rebirthsBefore + 1);
      // Malformed protobuf: reported with its topic, dropped; good data keeps flowing.
      const n = samples.items.length;
      await node.raw('DDATA', 'assembly', new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]));
      await node.data('assembly', { Running: false });
      await problems.waitFor(2);
      expect(problems.items[1]?.problem).toBe('malformed-payload');
      expect(problems.items[1]?.reason).toContain(`spBv1.0/${groupId}/DDATA/line1/assembly`);
      await samples.waitFor(n + 1);
      expect(samples.items.at(-1)).toMatchObject({ signal: sig('running'), value: false, quality: 'good' });
      // An unclean death: the broker sends NDEATH; every metric of the node goes bad.
      await node.die();
      await samples.waitFor(n + 1 + 4);
      expect(samples.items.slice(-4).every((s) => s.quality === 'bad')).toBe(true);
      await problems.waitFor(3);
      expect(problems.items.at(-1)?.problem).toBe('node-death');
      // A stopping host says it goes offline.
      await source.stop();
      expect(JSON.parse((await state.waitFor(2))[1] as string)).toMatchObject({ online: false });
    } finally {
      await watcher.endAsync(true);
    }
  });

  it('marks only a dead device (DDEATH) bad, and writes a node metric by NCMD', async () => {
    groupId = `g-${randomUUID().slice(0, 8)}`;
    const model = testModel([
      {
        id: 'sp',
        protocol: 'sparkplug',
        url: URL,
        groupId,
        hostId: `h-${groupId}`,
        bindings: [
          { signal: 'm1/power', edgeNode: 'line1', device: 'assembly', metric: 'Motor Current' },
          { signal: 'm1/count', edgeNode: 'line1', device: 'assembly', metric: 'Parts/Total' },
          { signal: 'm1/temp', edgeNode: 'line1', device: 'oven', metric: 'Temperature' },
          { signal: 'm1/setpoint', edgeNode: 'line1', metric: 'Line/Speed Setpoint' },
        ],
      },
    ]);
    const host = startHost(model);
    source = host.source;
    const { samples, problems } = host;
    node = new TestEdgeNode(
      URL,
      groupId,
      'line1',
      {
        assembly: metrics().slice(0, 2),
        oven: [{ name: 'Temperature', alias: 20, type: 'Double', value: 180.5 }],
      },
      [{ name: 'Line/Speed Setpoint', alias: 30, type: 'Double', value: 100 }],
    );
    await node.connect();
    await source.start();
    await samples.waitFor(4);
    const latest = (): Map<string, Sample> => new Map(samples.items.map((x) => [x.signal, x]));
    expect([...latest().values()].every((x) => x.quality === 'good')).toBe(true);
    expect(latest().get(sig('setpoint'))?.value).toBe(100);
    expect(latest().get(sig('temp'))?.value).toBe(180.5);
    const before = samples.items.length;
    await node.deviceDeath('assembly');
    const [death] = await problems.waitFor(1);
    expect(death?.problem).toBe('device-death');
    expect(death?.reason).toContain(`spBv1.0/${groupId}/DDEATH/line1/assembly`);
    expect(death?.details).toMatchObject({ edgeNode: 'line1', device: 'assembly' });
    await samples.waitFor(before + 2);
    const marked = samples.items.slice(before);
    expect(marked.map((x) => [x.signal, x.quality]).sort()).toEqual([
      [sig('count'), 'bad'],
      [sig('power'), 'bad'],
    ]);
    // The other device and the node's own metric are alive: their last values stay good.
    expect(latest().get(sig('temp'))?.quality).toBe('good');
    expect(latest().get(sig('setpoint'))?.quality).toBe('good');
    // A node metric is written by NCMD (Sparkplug 3.0 §6.4.16), typed as its birth said.
    await source.write(sig('setpoint'), 95);
    const deadline = Date.now() + 5000;
    while (node.nodeMetrics[0]?.value !== 95 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(node.nodeMetrics[0]?.value).toBe(95);
    expect(node.commands.at(-1)).toEqual({
      topic: `spBv1.0/${groupId}/NCMD/line1`,
      name: 'Line/Speed Setpoint',
      value: 95,
    });
  });
});
